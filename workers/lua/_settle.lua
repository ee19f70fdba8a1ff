-- settle(from, to, n_ok, n_failed, now, batch_id, retention, errors_max, first_error, last_error):
-- counts a batch's outcome once (from its state `from`, which the caller read and checked) and
-- takes it out of the poll schedule and the in-flight set, drops its payload, counts its items in
-- the run and in the connection's fleet-wide metrics (one step, so they always agree), keeps the
-- first errors (ARGV[first_error..last_error]; last_error nil: to the end) and may end the run.
-- Returns the run's final state or 'open'.
-- KEYS: batch, jobs_due, inflight, batch_items, then the run keys (o = 5).
--@include _finalize
--@include _push_capped

local function settle(from, to, n_ok, n_failed, now, batch_id, retention, errors_max,
                      first_error, last_error)
  -- prune batches (deactivations of items gone from the catalog) are counted apart
  local counter = (redis.call('HGET', KEYS[1], 'kind') == 'prune') and 'p_' or 'c_'
  local run = KEYS[5]
  redis.call('HSET', KEYS[1], 'state', to)
  redis.call('HDEL', KEYS[1], 'sending')
  redis.call('ZREM', KEYS[2], batch_id)
  redis.call('ZREM', KEYS[3], batch_id)
  redis.call('DEL', KEYS[4])
  if from == 'pending' and to == 'completed' then
    -- answered at once (no remote job): the items were accepted by the provider
    redis.call('HINCRBY', run, counter .. 'submitted', tonumber(redis.call('HGET', KEYS[1], 'size')))
  end
  redis.call('HINCRBY', run, 'b_' .. from, -1)
  redis.call('HINCRBY', run, 'b_' .. to, 1)
  redis.call('HINCRBY', run, counter .. 'succeeded', n_ok)
  redis.call('HINCRBY', run, counter .. 'failed', n_failed)
  local metric = (counter == 'p_') and 'pruned:' or 'items:'
  redis.call('HINCRBY', KEYS[12], metric .. 'succeeded', n_ok)
  redis.call('HINCRBY', KEYS[12], metric .. 'failed', n_failed)
  redis.call('HINCRBY', KEYS[12], 'batches:' .. to, 1)
  redis.call('SADD', KEYS[13], redis.call('HGET', KEYS[1], 'connection'))
  if redis.call('HGET', run, 'state') == 'queued' then
    redis.call('HSET', run, 'state', 'running')
  end
  push_capped(KEYS[6], errors_max, first_error, last_error)
  return finalize(5, now, retention) or 'open'
end
