-- KEYS: batch, jobs_due, inflight, batch_items, then the run keys (o = 5, ten of them), then the
-- hashes to write if this call settles the batch (KEYS[15..]).
-- ARGV: to_state ('completed'|'failed'), n_ok, n_failed, now_iso, batch_id, retention_s,
-- errors_max, n_errors, error_json * n_errors, then the hashes' pairs (see _hset_many).
-- Settles a batch once (see _settle) and, in the same step, writes what its outcome taught
-- (content digests, the provider's ids, item statuses). One step, because a run that reads as
-- ended must already have every digest its batches earned: the next sync, started the moment the
-- run ends, diffs against them. Returns false when the batch was already settled (and writes
-- nothing), else the run's final state or 'open'.
--@include _settle
--@include _hset_many

local from = redis.call('HGET', KEYS[1], 'state')
if from == false or from == 'completed' or from == 'failed' or from == 'split' then return false end
local n_errors = tonumber(ARGV[8])
local result = settle(from, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5],
                      tonumber(ARGV[6]), tonumber(ARGV[7]), 9, 8 + n_errors)
if #KEYS >= 15 then hset_many(15, 9 + n_errors) end
return result
