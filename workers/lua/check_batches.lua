-- KEYS: ready, inflight, deferred, jobs_due, ready_connections, low-priority ready, batch...
-- ARGV: repair ('1'|'0'), connection, batch_id... (in the order of the batch keys).
-- The doctor's check: every pending batch is in its ready list, the deferred set or in flight;
-- every submitted one is due for a poll. Returns {requeued, rescheduled, missing}: pending
-- batches found in no structure, submitted ones not in the poll schedule, batches whose record
-- is gone. With repair, the first two are put back.
--@include _now
local now = now_ms()
local ready = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do ready[id] = true end
for _, id in ipairs(redis.call('LRANGE', KEYS[6], 0, -1)) do ready[id] = true end
local requeued, rescheduled, missing = {}, {}, {}
for i = 7, #KEYS do
  local id = ARGV[i - 4]
  local state, priority = unpack(redis.call('HMGET', KEYS[i], 'state', 'priority'))
  if not state then
    missing[#missing + 1] = id
  elseif state == 'pending' then
    if not (ready[id] or redis.call('ZSCORE', KEYS[2], id) or redis.call('ZSCORE', KEYS[3], id)) then
      requeued[#requeued + 1] = id
      if ARGV[1] == '1' then
        redis.call('RPUSH', priority == 'low' and KEYS[6] or KEYS[1], id)
        redis.call('SADD', KEYS[5], ARGV[2])
        ready[id] = true
      end
    end
  elseif state == 'submitted' then
    if not redis.call('ZSCORE', KEYS[4], id) then
      rescheduled[#rescheduled + 1] = id
      if ARGV[1] == '1' then redis.call('ZADD', KEYS[4], now, id) end
    end
  end
end
return {requeued, rescheduled, missing}
