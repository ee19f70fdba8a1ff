-- KEYS: source zset, ready list, ready_connections, batch. ARGV: batch_id, connection,
-- only_pending ('1'|'0').
-- Moves the batch from the source set to the front of its ready list in one step (a crash, of
-- Redis or of the pump, between the two would lose it), if its score (a lease end or due time)
-- has passed on Redis' clock. With only_pending, a batch no longer pending is only dropped from
-- the set. Returns 1 if moved, 0 if another pump took it first, or it is not due, or no longer
-- pending.
--@include _now
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > now_ms() then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '1' and redis.call('HGET', KEYS[4], 'state') ~= 'pending' then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
