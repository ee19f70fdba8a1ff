-- KEYS: batch, run, paused_connections, inflight, ready, ready_low, ready_connections,
-- conn_metrics, metrics_connections.
-- ARGV: token, batch_id, connection, wait_field, wait_ms.
-- The batch's request is about to leave: if the worker dies before the outcome is recorded,
-- the next attempt knows the provider may have received it. The same step decides whether it
-- may leave at all, so a cancel or a pause recorded a moment before always wins:
-- - the run was cancelled: returns 'cancelled' (the caller fails the batch, never sent);
-- - its connection is paused: the batch goes back to the front of its ready list, leaving the
--   in-flight set, and 'paused' is returned (nothing is sent until the connection resumes).
-- Returns 'gone' when the batch is no longer pending (nothing may be sent), else 'ok'.
-- On its first 'ok' the batch keeps how long it waited since the producer made it (waited_ms)
-- and counts it in the connection's wait histogram (wait_field, workers.metrics.record): here,
-- because only this step knows the batch really leaves, and the HSETNX makes a retry, a reopen
-- or a second delivery count nothing. wait_field '' (a batch without created_ms) counts nothing.

local b = redis.call('HMGET', KEYS[1], 'state', 'priority')
if b[1] ~= 'pending' then return 'gone' end
if redis.call('HEXISTS', KEYS[2], 'cancel_requested') == 1 then return 'cancelled' end
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then
  redis.call('ZREM', KEYS[4], ARGV[2])
  redis.call('LPUSH', b[2] == 'low' and KEYS[6] or KEYS[5], ARGV[2])
  redis.call('SADD', KEYS[7], ARGV[3])
  return 'paused'
end
redis.call('HSET', KEYS[1], 'sending', ARGV[1])
if ARGV[4] ~= '' and redis.call('HSETNX', KEYS[1], 'waited_ms', ARGV[5]) == 1 then
  redis.call('HINCRBY', KEYS[8], ARGV[4], 1)
  redis.call('HINCRBY', KEYS[8], 'wait:sum_ms', ARGV[5])
  redis.call('SADD', KEYS[9], ARGV[3])
end
return 'ok'
