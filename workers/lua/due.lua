-- KEYS: zset. ARGV: limit.
-- Members whose score (Redis ms) has passed, oldest first.
--@include _now

return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
