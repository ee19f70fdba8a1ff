-- KEYS: jobs_due. ARGV: batch_id, delay_ms.
-- Poll again delay_ms from now, if the job is still tracked (XX: a settled batch left the set
-- and must not come back).
--@include _now

return redis.call('ZADD', KEYS[1], 'XX', now_ms() + tonumber(ARGV[2]), ARGV[1])
