-- KEYS: batch, jobs_due, inflight, batch_items, then the run keys (o = 5, ten of them), then,
-- when ARGV[9] > 0, the target's two fingerprints strings and ARGV[9] content-hashes keys (see
-- _digests), then the other hashes to write (see _hset_many).
-- ARGV: to_state ('completed'|'failed'), n_ok, n_failed, now_iso, batch_id, retention_s,
-- errors_max, n_errors, n_digest_buckets, error_json * n_errors, the digests, the hashes' pairs.
-- Settles a batch once (see _settle) and, in the same step, writes what its outcome taught
-- (content digests with their buckets' fingerprints, the provider's ids, item statuses). One
-- step, because a run that reads as ended must already have every digest its batches earned:
-- the next sync, started the moment the run ends, diffs against them. Returns false when the
-- batch was already settled (and writes nothing), else the run's final state or 'open'.
--@include _settle
--@include _digests
--@include _hset_many

local from = redis.call('HGET', KEYS[1], 'state')
if from == false or from == 'completed' or from == 'failed' or from == 'split' then return false end
local n_errors, n_buckets = tonumber(ARGV[8]), tonumber(ARGV[9])
local result = settle(from, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5],
                      tonumber(ARGV[6]), tonumber(ARGV[7]), 10, 9 + n_errors)
local a, k = 10 + n_errors, 15
if n_buckets > 0 then
  a = put_digests(k, a, n_buckets)
  k = k + 2 + n_buckets
end
if #KEYS >= k then hset_many(k, a) end
return result
