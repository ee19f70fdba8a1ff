-- KEYS: outbox, attempts. ARGV: run_id, delay_ms, max.
-- Counts a failed delivery; reschedules it delay_ms from now, or drops it after `max`.
-- Returns the number of failures so far.
--@include _now
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 86400)
if n >= tonumber(ARGV[3]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'XX', now_ms() + tonumber(ARGV[2]), ARGV[1])
end
return n
