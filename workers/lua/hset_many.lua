-- KEYS: hash... ARGV: for each key in order, its number of pairs n, then n field/value pairs.
-- One command for a batch's writes to many bucketed hashes: a 1,000-item batch touches some 900
-- buckets, and 900 HSETs cost the worker far more to send and read back than one call. HSET
-- takes at most 500 pairs at a time (Lua's unpack() has a stack limit near 8,000).

local a = 1
for k = 1, #KEYS do
  local last = a + 2 * tonumber(ARGV[a])
  a = a + 1
  while a <= last do
    local stop = math.min(a + 999, last)
    redis.call('HSET', KEYS[k], unpack(ARGV, a, stop))
    a = stop + 1
  end
end
return #KEYS
