-- KEYS: jobs_due. ARGV: limit, lease_ms, ahead_ms.
-- Claims the jobs due for a poll (or due within ahead_ms: the sweep waits for their moment, so
-- a job is not polled up to a tick late) by pushing each one lease_ms ahead, in the step that reads
-- them, so two sweeps never poll one job in the same round. Returns {now_ms, {id, due_ms, ...}}:
-- each id followed by the time it was due (how late polls run is a metric).
--@include _now
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now + tonumber(ARGV[3] or '0'), 'WITHSCORES',
                      'LIMIT', 0, tonumber(ARGV[1]))
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), due[i])
end
return {now, due}
