-- KEYS: batch, jobs_due, inflight, batch_items, then the run keys (o = 5).
-- ARGV: to_state ('completed'|'failed'), n_ok, n_failed, now_iso, batch_id, retention_s,
-- errors_max, error_json...
-- Settles a batch once (see _settle). Returns false when the batch was already settled, else
-- the run's final state or 'open'.
--@include _settle

local from = redis.call('HGET', KEYS[1], 'state')
if from == false or from == 'completed' or from == 'failed' or from == 'split' then return false end
return settle(from, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5],
              tonumber(ARGV[6]), tonumber(ARGV[7]), 8)
