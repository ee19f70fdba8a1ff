-- KEYS: slots zset. ARGV: holder, limit, lease_ms.
-- Takes or renews holder's slot among `limit`, dropping expired leases first (a dead holder
-- frees its slot). Returns 0 on success, else ms until the earliest lease expires.
--@include _now
local now = now_exact_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.ceil(tonumber(first[2]) - now)
