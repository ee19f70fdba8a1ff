-- KEYS: outbox. ARGV: limit, claim_ms.
-- The run ends due for announcement, each pushed claim_ms ahead (a lost delivery task means one
-- more try, not silence).
--@include _now
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id) end
return due
