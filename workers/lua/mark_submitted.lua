-- KEYS: batch, run, jobs_due, inflight. ARGV: job_ref, first_poll_ms, batch_id, early_json.
-- pending -> submitted, remembering the remote job and scheduling its first poll, and giving up
-- the in-flight lease in the same step. early_json holds item results the provider gave at
-- submission (a dry run's invalid rows), or ''. Returns 1 on the transition, 0 if the batch was
-- not pending (a duplicate delivery).
--@include _now

local b = redis.call('HMGET', KEYS[1], 'state', 'size', 'kind')
if b[1] ~= 'pending' then return 0 end
local now = now_ms()
local counter = (b[3] == 'prune') and 'p_' or 'c_'
redis.call('HSET', KEYS[1], 'state', 'submitted', 'job_ref', ARGV[1], 'submitted_ms', now,
           'polls', '0', 'poll_errors', '0', 'early', ARGV[4])
redis.call('HDEL', KEYS[1], 'sending')
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('HINCRBY', KEYS[2], 'b_pending', -1)
redis.call('HINCRBY', KEYS[2], 'b_submitted', 1)
redis.call('HINCRBY', KEYS[2], counter .. 'submitted', tonumber(b[2]))
if redis.call('HGET', KEYS[2], 'state') == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running')
end
return 1
