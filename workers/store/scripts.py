"""Lua scripts that keep run and batch state exact under concurrent workers, crashes and a full Redis.

Every change of a batch's state is one script: it moves the batch between the dispatch
structures (ready list, in-flight leases, deferred set, due jobs) *and* changes its state and
the run's counters in the same atomic step, so there is no moment at which a batch is in no
structure (a crash, or Redis refusing writes at ``maxmemory``, between two commands would
strand it). Redis runs a script to the end once it has written anything, and refuses it before
its first write when memory is full, so a script is all or nothing.

Each script does nothing when the batch is already past the state it expects, so a redelivered
message or a poll result processed twice never counts an item twice. Times come from Redis'
own clock (``TIME``), never from the calling host, so hosts with skewed clocks agree on leases,
deferrals and due times.

The ``finalize`` snippet ends a run exactly once, when the producer has sealed it and every
batch has settled, and does everything a finished run needs in the same step: retention TTLs,
the fleet-wide "runs finished" counter, the webhook outbox, the scheduled-run claim.

Key layout: scripts that may end a run take the *run keys* (``RUN_KEYS``, built by
``workers.store.runs.run_keys``) after their own keys, at ``KEYS[o]`` onwards.
"""

from __future__ import annotations

__all__ = [
    "DEFER",
    "FINALIZE_RUN",
    "HEARTBEAT",
    "HSET_MANY",
    "MARK_SENDING",
    "MARK_SUBMITTED",
    "PUSH_CAPPED",
    "REOPEN",
    "RUN_KEYS",
    "SEAL_RUN",
    "SETTLE_BATCH",
    "SPLIT_BATCH",
]

#: The run keys, in order (``workers.store.runs.run_keys`` builds them).
RUN_KEYS = (
    "run",
    "run_errors",
    "item_errors",
    "retry_items",
    "run_batches",
    "outbox",
    "active_run",
    "conn_metrics",
    "metrics_connections",
    "open_runs",
)

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

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

# Decides and stores the final state, and does what a finished run needs, once.
# o: index of the run keys in KEYS; now: ISO string; retention: seconds.
_FINALIZE = (
    _NOW
    + """
local function finalize(o, now, retention)
  local run = KEYS[o]
  local f = redis.call('HMGET', run, 'sealed', 'b_total', 'b_completed', 'b_failed', 'state',
                       'c_succeeded', 'c_unchanged', 'c_failed', 'c_invalid', 'fatal',
                       'p_failed', 'p_refused', 'b_split', 'connection', 'run_id')
  if f[1] ~= '1' then return false end
  if f[5] == 'completed' or f[5] == 'completed_with_errors' or f[5] == 'failed' then return false end
  local settled = tonumber(f[3] or 0) + tonumber(f[4] or 0) + tonumber(f[13] or 0)
  if tonumber(f[2] or 0) ~= settled then return false end
  local good = tonumber(f[6] or 0) + tonumber(f[7] or 0)
  local bad = tonumber(f[8] or 0) + tonumber(f[9] or 0) + tonumber(f[11] or 0)
  -- a refused prune is a visible outcome: the run did not do all it was asked to
  if f[12] and f[12] ~= '' then bad = bad + 1 end
  local state = 'completed'
  if f[10] and f[10] ~= '' then state = 'failed'
  elseif good == 0 and bad > 0 then state = 'failed'
  elseif bad > 0 then state = 'completed_with_errors' end
  redis.call('HSET', run, 'state', state, 'finished_at', now)
  -- retention counts from the end of the run, not from its start
  for k = o, o + 4 do redis.call('EXPIRE', KEYS[k], retention) end
  redis.call('ZADD', KEYS[o + 5], now_ms(), f[15])
  if redis.call('GET', KEYS[o + 6]) == f[15] then redis.call('DEL', KEYS[o + 6]) end
  redis.call('HINCRBY', KEYS[o + 7], 'runs:' .. state, 1)
  redis.call('SADD', KEYS[o + 8], f[14])
  redis.call('ZREM', KEYS[o + 9], f[15])
  return state
end
"""
)

#: KEYS: list. ARGV: max, entry... Keeps the first `max` entries ever pushed.
PUSH_CAPPED = _PUSH_CAPPED + "push_capped(KEYS[1], tonumber(ARGV[1]), 2) return 1"

#: KEYS: run keys. ARGV: now_iso, retention_s.
#: Returns the final state if this call ended the run, else false.
FINALIZE_RUN = _FINALIZE + "return finalize(1, ARGV[1], tonumber(ARGV[2]))"

#: KEYS: run keys. ARGV: now_iso, retention_s, fatal_reason ('' for none), lost_message.
#: The producer is done (or was found dead): mark the run sealed and end it if every batch has
#: settled. Items the producer counted but never put in a batch (it stopped between the two) are
#: counted failed here, with ``lost_message`` (%d is their number), so the counts always add up.
SEAL_RUN = (
    _FINALIZE
    + _PUSH_CAPPED
    + """
if redis.call('HGET', KEYS[1], 'sealed') == '1' then return false end
redis.call('HSET', KEYS[1], 'sealed', '1')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'fatal', ARGV[3]) end
local c = redis.call('HMGET', KEYS[1], 'c_total', 'c_invalid', 'c_unchanged', 'c_batched')
local lost = tonumber(c[1] or 0) - tonumber(c[2] or 0) - tonumber(c[3] or 0) - tonumber(c[4] or 0)
if lost > 0 then
  redis.call('HINCRBY', KEYS[1], 'c_failed', lost)
  redis.call('HINCRBY', KEYS[1], 'c_batched', lost)
  local err = cjson.encode({item_id = '(' .. lost .. ' items)', stage = 'producer',
                            code = 'coursesync.NEVER_SENT', message = string.format(ARGV[4], lost)})
  ARGV[5] = err
  push_capped(KEYS[2], 100, 5)
end
return finalize(1, ARGV[1], tonumber(ARGV[2]))
"""
)

#: KEYS: open_runs. ARGV: run_id. The producer of run_id is alive (score: Redis time, ms).
HEARTBEAT = _NOW + "redis.call('ZADD', KEYS[1], now_ms(), ARGV[1]) return 1"

#: KEYS: batch. ARGV: token. The batch's request is about to leave: if the worker dies before
#: the outcome is recorded, the next attempt knows the provider may have received it.
#: Returns 0 when the batch is no longer pending (nothing may be sent), else 1.
MARK_SENDING = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'sending', ARGV[1])
return 1
"""

#: KEYS: batch, inflight, deferred. ARGV: batch_id, delay_ms, lease_ms, mode, answered.
#: Try a pending batch again later without blocking a worker meanwhile: mode 'countdown' keeps
#: it in flight with a lease covering the wait (a Celery countdown brings it back), 'deferred'
#: moves it to the deferred set that the pump drains. With answered = '1' (the provider said
#: it did not process the request: a 503, a 429) the sending mark is cleared; a wait before
#: sending (budget, lock) keeps it, so a mark left by a worker killed mid-send is never lost.
#: Returns 0 if the batch is no longer pending.
DEFER = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if ARGV[5] == '1' then redis.call('HDEL', KEYS[1], 'sending') end
local now = now_ms()
if ARGV[4] == 'countdown' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""
)

#: KEYS: batch, run, jobs_due, inflight. ARGV: job_ref, first_poll_ms, batch_id, early_json.
#: pending -> submitted, remembering the remote job and scheduling its first poll, and giving up
#: the in-flight lease in the same step. early_json holds item results the provider gave at
#: submission (a dry run's invalid rows), or ''. Returns 1 on the transition, 0 if the batch was
#: not pending (a duplicate delivery).
MARK_SUBMITTED = (
    _NOW
    + """
local b = redis.call('HMGET', KEYS[1], 'state', 'size', 'kind')
if b[1] ~= 'pending' then return 0 end
local now = now_ms()
local counter = (b[3] == 'prune') and 'p_' or 'c_'
redis.call('HSET', KEYS[1], 'state', 'submitted', 'job_ref', ARGV[1], 'submitted_ms', now,
           'polls', '0', 'poll_errors', '0', 'early', ARGV[4])
redis.call('HDEL', KEYS[1], 'sending', 'booked_ms')
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('HINCRBY', KEYS[2], 'b_pending', -1)
redis.call('HINCRBY', KEYS[2], 'b_submitted', 1)
redis.call('HINCRBY', KEYS[2], counter .. 'submitted', tonumber(b[2]))
if redis.call('HGET', KEYS[2], 'state') == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running')
end
return 1
"""
)

#: KEYS: batch, jobs_due, deferred, job_slots, run. ARGV: batch_id, delay_ms, reason.
#: submitted -> pending: the remote job failed as a whole for a transient reason (Kombo's
#: PLATFORM.TASK_TIMED_OUT), so the batch is sent again after ``delay_ms``. Its job slot is
#: free (the job ended). Returns 1, or 0 if the batch was not submitted.
REOPEN = (
    _NOW
    + """
local b = redis.call('HMGET', KEYS[1], 'state', 'size', 'kind')
if b[1] ~= 'submitted' then return 0 end
local counter = (b[3] == 'prune') and 'p_' or 'c_'
redis.call('HSET', KEYS[1], 'state', 'pending', 'last_error', ARGV[3])
redis.call('HDEL', KEYS[1], 'job_ref', 'submitted_ms', 'early', 'sending', 'booked_ms')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[3], now_ms() + tonumber(ARGV[2]), ARGV[1])
redis.call('HINCRBY', KEYS[5], 'b_submitted', -1)
redis.call('HINCRBY', KEYS[5], 'b_pending', 1)
redis.call('HINCRBY', KEYS[5], counter .. 'submitted', -tonumber(b[2]))
return 1
"""
)

#: KEYS: batch, jobs_due, inflight, job_slots, batch_items, then the run keys (o = 6).
#: ARGV: to_state ('completed'|'failed'), n_ok, n_failed, now_iso, batch_id, retention_s,
#: errors_max, error_json...
#: Settles a batch once: leaves every dispatch structure, frees its job slot, drops its payload,
#: counts its items (in the run and in the connection's fleet-wide metrics, in one step so they
#: always agree), keeps the first errors, may end the run. Returns false when the batch was
#: already settled, else the run's final state or 'open'.
SETTLE_BATCH = (
    _FINALIZE
    + _PUSH_CAPPED
    + """
local from = redis.call('HGET', KEYS[1], 'state')
if from == false or from == 'completed' or from == 'failed' or from == 'split' then return false end
-- prune batches (deactivations of items gone from the catalog) are counted apart
local counter = (redis.call('HGET', KEYS[1], 'kind') == 'prune') and 'p_' or 'c_'
local run = KEYS[6]
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('HDEL', KEYS[1], 'sending', 'booked_ms')
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('ZREM', KEYS[4], ARGV[5])
redis.call('DEL', KEYS[5])
if from == 'pending' and ARGV[1] == 'completed' then
  -- answered at once (no remote job): the items were accepted by the provider
  redis.call('HINCRBY', run, counter .. 'submitted', tonumber(redis.call('HGET', KEYS[1], 'size')))
end
redis.call('HINCRBY', run, 'b_' .. from, -1)
redis.call('HINCRBY', run, 'b_' .. ARGV[1], 1)
redis.call('HINCRBY', run, counter .. 'succeeded', tonumber(ARGV[2]))
redis.call('HINCRBY', run, counter .. 'failed', tonumber(ARGV[3]))
local metric = (counter == 'p_') and 'pruned:' or 'items:'
redis.call('HINCRBY', KEYS[13], metric .. 'succeeded', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[13], metric .. 'failed', tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[13], 'batches:' .. ARGV[1], 1)
redis.call('SADD', KEYS[14], redis.call('HGET', KEYS[1], 'connection'))
if redis.call('HGET', run, 'state') == 'queued' then
  redis.call('HSET', run, 'state', 'running')
end
push_capped(KEYS[7], tonumber(ARGV[7]), 8)
return finalize(6, ARGV[4], tonumber(ARGV[6])) or 'open'
"""
)

#: KEYS: parent batch, inflight, ready, ready_connections, run, run_batches, parent batch_items,
#: root batch, child batch 1, child items 1, child batch 2, child items 2.
#: ARGV: parent_id, connection, child_id_1, child_id_2, size_1, size_2, blob_1, blob_2,
#: payload_ttl_s, retention_s, reason.
#: The provider refused a pending batch as a whole for validation: it becomes two halves, put at
#: the front of the connection's ready list, so the offending items end up alone and the rest
#: is sent. The parent is settled as 'split' and counts no item itself. Returns 1, or 0 if the
#: parent was no longer pending.
SPLIT_BATCH = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
local p = redis.call('HMGET', KEYS[1], 'run_id', 'connection', 'op', 'kind', 'created_ms',
                     'target', 'depth', 'root')
local depth = tonumber(p[7] or 0) + 1
local root = p[8] or ARGV[1]
for i = 0, 1 do
  local key, items = KEYS[9 + 2 * i], KEYS[10 + 2 * i]
  redis.call('HSET', key, 'run_id', p[1], 'connection', p[2], 'op', p[3], 'kind', p[4],
             'size', ARGV[5 + i], 'state', 'pending', 'attempts', 0, 'created_ms', p[5],
             'target', p[6] or '', 'depth', depth, 'root', root, 'parent', ARGV[1])
  redis.call('EXPIRE', key, tonumber(ARGV[10]))
  redis.call('SET', items, ARGV[7 + i], 'EX', tonumber(ARGV[9]))
  redis.call('RPUSH', KEYS[6], ARGV[3 + i])
end
redis.call('HSET', KEYS[1], 'state', 'split', 'last_error', ARGV[11])
redis.call('HDEL', KEYS[1], 'sending', 'booked_ms')
redis.call('DEL', KEYS[7])
redis.call('ZREM', KEYS[2], ARGV[1])
-- the halves go first: the run was about to send them anyway
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[5], 'b_pending', 1)
redis.call('HINCRBY', KEYS[5], 'b_total', 2)
redis.call('HINCRBY', KEYS[5], 'b_split', 1)
redis.call('HINCRBY', KEYS[5], 's_extra_requests', 2)
redis.call('HINCRBY', KEYS[8], 'split_extra', 2)
return 1
"""

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
