-- KEYS: source zset, ready list, ready_connections, batch, low-priority ready list.
-- ARGV: batch_id, connection, only_pending ('1'|'0').
-- Moves the batch from the source set to the front of its ready list (a scheduled resync's
-- batch to the low-priority one) in one step (a crash, of Redis or of the pump, between the
-- two would lose it), if its score (a lease end or due time) has passed on Redis' clock. With
-- only_pending, a batch no longer pending is only dropped from the set. Returns 1 if moved, 0
-- if another pump took it first, or it is not due, or no longer pending.
--@include _now
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > now_ms() then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local batch = redis.call('HMGET', KEYS[4], 'state', 'priority')
if ARGV[3] == '1' and batch[1] ~= 'pending' then return 0 end
redis.call('LPUSH', batch[2] == 'low' and KEYS[5] or KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
