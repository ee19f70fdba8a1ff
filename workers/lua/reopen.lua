-- KEYS: batch, jobs_due, deferred, run. ARGV: batch_id, delay_ms, reason.
-- submitted -> pending: the remote job failed as a whole for a transient reason (Kombo's
-- PLATFORM.TASK_TIMED_OUT), so the batch is sent again after delay_ms, as one more attempt.
-- Returns 1, or 0 if the batch was not submitted.
--@include _now

local b = redis.call('HMGET', KEYS[1], 'state', 'size', 'kind')
if b[1] ~= 'submitted' then return 0 end
local counter = (b[3] == 'prune') and 'p_' or 'c_'
redis.call('HSET', KEYS[1], 'state', 'pending', 'last_error', ARGV[3])
redis.call('HDEL', KEYS[1], 'job_ref', 'submitted_ms', 'early', 'sending')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now_ms() + tonumber(ARGV[2]), ARGV[1])
redis.call('HINCRBY', KEYS[4], 'b_submitted', -1)
redis.call('HINCRBY', KEYS[4], 'b_pending', 1)
redis.call('HINCRBY', KEYS[4], counter .. 'submitted', -tonumber(b[2]))
return 1
