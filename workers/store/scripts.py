"""Lua scripts that keep run and batch state exact under concurrent workers.

Each script changes a batch's state and the run's counters in one atomic step, and does nothing
when the batch is already past that state, so a redelivered message or a poll result processed
twice never counts an item twice. The same ``FINALIZE`` snippet ends the run exactly once: when
the producer has sealed it and every batch has settled.
"""

from __future__ import annotations

__all__ = ["FINALIZE_RUN", "HSET_MANY", "MARK_SUBMITTED", "PUSH_CAPPED", "SEAL_RUN", "SETTLE_BATCH"]

# Appends ARGV[first..] to the list `key` while it holds fewer than `max` entries.
_PUSH_CAPPED = """
local function push_capped(key, max, first)
  local room = max - redis.call('LLEN', key)
  for i = first, #ARGV do
    if room <= 0 then break end
    redis.call('RPUSH', key, ARGV[i])
    room = room - 1
  end
end
"""

#: KEYS: list. ARGV: max, entry... Keeps the first `max` entries ever pushed.
PUSH_CAPPED = _PUSH_CAPPED + "push_capped(KEYS[1], tonumber(ARGV[1]), 2) return 1"

# Decides and stores the final state. Expects `run` (key) and `now` (ISO string) in scope.
_FINALIZE = """
local function finalize(run, now)
  local f = redis.call('HMGET', run, 'sealed', 'b_total', 'b_completed', 'b_failed', 'state',
                       'c_succeeded', 'c_unchanged', 'c_failed', 'c_invalid', 'fatal',
                       'p_failed', 'p_refused')
  if f[1] ~= '1' then return false end
  if f[5] == 'completed' or f[5] == 'completed_with_errors' or f[5] == 'failed' then return false end
  if tonumber(f[2]) ~= tonumber(f[3] or 0) + tonumber(f[4] or 0) then return false end
  local good = tonumber(f[6] or 0) + tonumber(f[7] or 0)
  local bad = tonumber(f[8] or 0) + tonumber(f[9] or 0) + tonumber(f[11] or 0)
  -- a refused prune is a visible outcome: the run did not do all it was asked to
  if f[12] and f[12] ~= '' then bad = bad + 1 end
  local state = 'completed'
  if f[10] and f[10] ~= '' then state = 'failed'
  elseif good == 0 and bad > 0 then state = 'failed'
  elseif bad > 0 then state = 'completed_with_errors' end
  redis.call('HSET', run, 'state', state, 'finished_at', now)
  return state
end
"""

#: KEYS: run. ARGV: now_iso. Returns the final state if this call ended the run, else false.
FINALIZE_RUN = _FINALIZE + "return finalize(KEYS[1], ARGV[1])"

#: KEYS: run. ARGV: now_iso, fatal_reason ('' for none).
#: The producer has read everything: mark the run sealed and end it if all batches settled.
SEAL_RUN = (
    _FINALIZE
    + """
redis.call('HSET', KEYS[1], 'sealed', '1')
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'fatal', ARGV[2]) end
return finalize(KEYS[1], ARGV[1])
"""
)

#: KEYS: batch, run, jobs_due. ARGV: job_ref, due_ms, now_iso, now_ms, batch_id, early_json.
#: pending -> submitted, remembering the remote job and scheduling its first poll. early_json
#: holds item results the provider gave at submission (a dry run's invalid rows), or ''.
#: Returns 1 on the transition, 0 if the batch was not pending (a duplicate delivery).
MARK_SUBMITTED = """
local b = redis.call('HMGET', KEYS[1], 'state', 'size', 'kind')
if b[1] ~= 'pending' then return 0 end
local counter = (b[3] == 'prune') and 'p_' or 'c_'
redis.call('HSET', KEYS[1], 'state', 'submitted', 'job_ref', ARGV[1], 'submitted_ms', ARGV[4],
           'polls', '0', 'early', ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
redis.call('HINCRBY', KEYS[2], 'b_pending', -1)
redis.call('HINCRBY', KEYS[2], 'b_submitted', 1)
redis.call('HINCRBY', KEYS[2], counter .. 'submitted', tonumber(b[2]))
if redis.call('HGET', KEYS[2], 'state') == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running')
end
return 1
"""

#: KEYS: batch, run, run_errors, jobs_due, conn_metrics, metrics_connections. ARGV: to_state
#: ('completed'|'failed'), n_ok, n_failed, now_iso, batch_id, errors_max, error_json...
#: Settles a batch once: counts its items (in the run and in the connection's fleet-wide
#: metrics, in one step so they always agree), keeps the first errors, may end the run.
#: Returns false when the batch was already settled, else the run's final state or 'open'.
SETTLE_BATCH = (
    _FINALIZE
    + _PUSH_CAPPED
    + """
local from = redis.call('HGET', KEYS[1], 'state')
if from == false or from == 'completed' or from == 'failed' then return false end
-- prune batches (deactivations of items gone from the catalog) are counted apart
local counter = (redis.call('HGET', KEYS[1], 'kind') == 'prune') and 'p_' or 'c_'
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[5])
if from == 'pending' and ARGV[1] == 'completed' then
  -- answered at once (no remote job): the items were accepted by the provider
  redis.call('HINCRBY', KEYS[2], counter .. 'submitted', tonumber(redis.call('HGET', KEYS[1], 'size')))
end
redis.call('HINCRBY', KEYS[2], 'b_' .. from, -1)
redis.call('HINCRBY', KEYS[2], 'b_' .. ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], counter .. 'succeeded', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[2], counter .. 'failed', tonumber(ARGV[3]))
local metric = (counter == 'p_') and 'pruned:' or 'items:'
redis.call('HINCRBY', KEYS[5], metric .. 'succeeded', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[5], metric .. 'failed', tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[5], 'batches:' .. ARGV[1], 1)
redis.call('SADD', KEYS[6], redis.call('HGET', KEYS[1], 'connection'))
if redis.call('HGET', KEYS[2], 'state') == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running')
end
push_capped(KEYS[3], tonumber(ARGV[6]), 7)
return finalize(KEYS[2], ARGV[4]) or 'open'
"""
)

#: KEYS: hash... ARGV: for each key in order, its number of pairs n, then n field/value pairs.
#: One command for a batch's writes to many bucketed hashes: a 1,000-item batch touches some
#: 900 buckets, and 900 HSETs cost the worker far more to send and read back than one call.
#: HSET takes at most 500 pairs at a time (Lua's unpack() has a stack limit near 8,000).
HSET_MANY = """
local a = 1
for k = 1, #KEYS do
  local last = a + 2 * tonumber(ARGV[a])
  a = a + 1
  while a <= last do
    local stop = math.min(a + 999, last)
    redis.call('HSET', KEYS[k], unpack(ARGV, a, stop))
    a = stop + 1
  end
end
return #KEYS
"""
