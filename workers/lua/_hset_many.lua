-- hset_many(first_key, a): writes KEYS[first_key..] from ARGV[a..]: for each key in order, its
-- number of pairs n, its TTL in seconds (0: keep the key's TTL as it is), then n field/value
-- pairs. One command for a batch's writes to many bucketed hashes: a 1,000-item batch touches
-- some 900 buckets, and 900 HSETs cost the worker far more to send and read back than one call.
-- HSET takes at most 500 pairs at a time (Lua's unpack() has a stack limit near 8,000).

local function hset_many(first_key, a)
  for k = first_key, #KEYS do
    local last = a + 1 + 2 * tonumber(ARGV[a])
    local ttl = tonumber(ARGV[a + 1])
    a = a + 2
    while a <= last do
      local stop = math.min(a + 999, last)
      redis.call('HSET', KEYS[k], unpack(ARGV, a, stop))
      a = stop + 1
    end
    if ttl > 0 then
      redis.call('EXPIRE', KEYS[k], ttl)
    end
  end
  return #KEYS - first_key + 1
end
