-- KEYS: batch, jobs_due, inflight, batch_items, then the run keys (o = 5).
-- ARGV: to_state ('completed'|'failed'), n_ok, n_failed, now_iso, batch_id, retention_s,
-- errors_max, error_json...
-- Settles a batch once: leaves every dispatch structure, drops its payload, counts its items
-- (in the run and in the connection's fleet-wide metrics, in one step so they always agree),
-- keeps the first errors, may end the run. Returns false when the batch was already settled,
-- else the run's final state or 'open'.
--@include _finalize
--@include _push_capped

local from = redis.call('HGET', KEYS[1], 'state')
if from == false or from == 'completed' or from == 'failed' or from == 'split' then return false end
-- prune batches (deactivations of items gone from the catalog) are counted apart
local counter = (redis.call('HGET', KEYS[1], 'kind') == 'prune') and 'p_' or 'c_'
local run = KEYS[5]
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('HDEL', KEYS[1], 'sending')
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('DEL', KEYS[4])
if from == 'pending' and ARGV[1] == 'completed' then
  -- answered at once (no remote job): the items were accepted by the provider
  redis.call('HINCRBY', run, counter .. 'submitted', tonumber(redis.call('HGET', KEYS[1], 'size')))
end
redis.call('HINCRBY', run, 'b_' .. from, -1)
redis.call('HINCRBY', run, 'b_' .. ARGV[1], 1)
redis.call('HINCRBY', run, counter .. 'succeeded', tonumber(ARGV[2]))
redis.call('HINCRBY', run, counter .. 'failed', tonumber(ARGV[3]))
local metric = (counter == 'p_') and 'pruned:' or 'items:'
redis.call('HINCRBY', KEYS[12], metric .. 'succeeded', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[12], metric .. 'failed', tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[12], 'batches:' .. ARGV[1], 1)
redis.call('SADD', KEYS[13], redis.call('HGET', KEYS[1], 'connection'))
if redis.call('HGET', run, 'state') == 'queued' then
  redis.call('HSET', run, 'state', 'running')
end
push_capped(KEYS[6], tonumber(ARGV[7]), 8)
return finalize(5, ARGV[4], tonumber(ARGV[6])) or 'open'
