-- KEYS: batch, jobs_due, inflight, batch_items, then the run keys (o = 5..14), ready,
-- ready_low, deferred.
-- ARGV: now_iso, batch_id, retention_s, errors_max, n_failed, n, then n triples (item_id, error
-- record JSON, retry record JSON), then the error records for the run document. n_failed is
-- the batch's size (n is 0 when its payload expired).
-- Fails a batch of a cancelled run that was never sent, in one step: it leaves its ready list,
-- the deferred set and the in-flight set, its items get their CANCELLED error records (and are
-- kept for `coursesync retry`), and it is settled failed (which may end the run). A batch whose
-- request is on its way (the 'sending' mark) is left to its worker: the provider may have it.
-- Because mark_sending refuses once the run is cancelled, a batch without the mark here can
-- never get one, so nothing this fails is ever sent.
-- Returns 'sending', false (not pending, or the run is not cancelled), or what settle returns.
--@include _settle

local b = redis.call('HMGET', KEYS[1], 'state', 'sending')
if b[1] ~= 'pending' then return false end
if b[2] then return 'sending' end
if not redis.call('HGET', KEYS[5], 'cancel_requested') then return false end
local id = ARGV[2]
redis.call('LREM', KEYS[15], 1, id)
redis.call('LREM', KEYS[16], 1, id)
redis.call('ZREM', KEYS[17], id)
local n = tonumber(ARGV[6])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[7], ARGV[7 + 3 * i], ARGV[8 + 3 * i])
  redis.call('HSET', KEYS[8], ARGV[7 + 3 * i], ARGV[9 + 3 * i])
end
if n > 0 then
  redis.call('EXPIRE', KEYS[7], tonumber(ARGV[3]))
  redis.call('EXPIRE', KEYS[8], tonumber(ARGV[3]))
end
return settle('pending', 'failed', 0, tonumber(ARGV[5]), ARGV[1], id, tonumber(ARGV[3]),
              tonumber(ARGV[4]), 7 + 3 * n)
