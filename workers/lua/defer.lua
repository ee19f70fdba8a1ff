-- KEYS: batch, inflight, deferred. ARGV: batch_id, delay_ms, lease_ms, mode, answered.
-- Try a pending batch again later without blocking a worker meanwhile: mode 'countdown' keeps
-- it in flight with a lease covering the wait (a Celery countdown brings it back), 'deferred'
-- moves it to the deferred set that the pump drains. With answered = '1' (the provider said it
-- did not process the request: a 503, a 429) the sending mark is cleared; a wait before
-- sending (budget, lock) keeps it, so a mark left by a worker killed mid-send is never lost.
-- Returns 0 if the batch is no longer pending.
--@include _now

if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if ARGV[5] == '1' then redis.call('HDEL', KEYS[1], 'sending') end
local now = now_ms()
if ARGV[4] == 'countdown' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
