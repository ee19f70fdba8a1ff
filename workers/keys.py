"""Every Redis key coursesync uses, in one place.

All keys share the ``cs:`` namespace so a shared Redis stays tidy and ``SCAN cs:*`` finds
everything. Each builder names its data type, who writes it and how long it lives. Run-scoped
keys live for ``Settings.run_retention_s`` after the run ends; the writer refreshes the TTL.
Celery's own broker keys (the ``coursesync`` queue, ``unacked``) are not ours: the two that
metrics and health read are listed at the end, outside the namespace, and never written.
"""

from __future__ import annotations

import zlib

PREFIX = "cs:"

# ---------------------------------------------------------------- connections
#: HASH name -> JSON record {"table": one [connections.NAME] table, literal credentials sealed,
#: "version": int, "updated_at": ms} of every connection created at runtime. Writer:
#: ``workers.connection_store`` only. No TTL: it is configuration.
CONNECTIONS = PREFIX + "connections"

#: STRING int, bumped with every change of CONNECTIONS (same transaction). Every process reads it
#: at most every ``Settings.connections_refresh_s`` and reloads on a change. No TTL.
CONNECTIONS_GENERATION = PREFIX + "connections:generation"

# ---------------------------------------------------------------- runs
#: ZSET run_id -> created_at ms. Writer: producer. Read by `coursesync runs`. Trimmed by retention.
RUNS_INDEX = PREFIX + "runs"


def runs_of(connection: str) -> str:
    """ZSET run_id -> created_at ms: the runs of one connection (the API's filter by connection).
    Writer: ``ledger.create_run``. Trimmed with RUNS_INDEX by retention."""
    return f"{PREFIX}runs:conn:{connection}"


#: ZSET run_id -> last sign of life of its producer (Redis time, ms): every run not yet ended.
#: Writers: the producer (created, then a heartbeat every few seconds while it reads), the
#: finalize step (``workers/lua/_finalize.lua``; removes it). Reader: the doctor, which ends runs
#: whose producer fell silent and checks that every pending batch of an open run is reachable.
OPEN_RUNS = PREFIX + "runs:open"

#: ZSET run_id -> when (Redis time, ms) its end must next be announced: the webhook outbox.
#: Writer: the finalize step (the run ended), in the same atomic step as the final state, so no
#: crash can lose the announcement. Drained by beat (``workers.outbox``), which claims an entry
#: by pushing its time ahead and removes it once delivered (or given up).
OUTBOX = PREFIX + "outbox"


def outbox_attempts(run_id: str) -> str:
    """STRING int: failed webhook deliveries of a run's end. Writer: the outbox. TTL: 1 day."""
    return f"{PREFIX}outbox:{run_id}:attempts"


def fanout(fanout_id: str) -> str:
    """HASH of one fan-out (one catalog to many connections): ``runs`` (JSON list of
    ``[connection, run_id]``), ``source`` (redacted), ``options``, ``created_at``, ``state``
    of its reading (``reading`` | ``read`` | ``failed``), ``reason``.
    Writers: ``workers.ledger.fanouts`` only. TTL: run retention. Each child run's hash names
    it in its field ``parent``."""
    return f"{PREFIX}fanout:{fanout_id}"


def fanout_parts_done(fanout_id: str) -> str:
    """SET of the fan-out's run ids whose part is done (sent, given up, or ended before it
    started): a set, so a part delivered twice counts once. The last one removes the snapshot.
    Writer: ``workers.ledger.fanouts``. TTL: run retention."""
    return f"{PREFIX}fanout:{fanout_id}:parts_done"


#: ZSET fanout_id -> created_at ms: recent fan-outs. Writer: ``workers.ledger.fanouts``.
FANOUTS_INDEX = PREFIX + "fanouts"


def run(run_id: str) -> str:
    """HASH of one run: connection, provider, state, timestamps and exact counters.

    Writers: producer (creation, counts of read/invalid/unchanged, seal) and the Lua scripts
    of ``workers/lua`` (batch transitions, final state). Its field ``cancel_requested`` (the
    time of `coursesync cancel`, set once by ``cancel_run.lua``) is the run's cancel flag:
    ``mark_sending.lua`` refuses every batch of a run that has it, and the producer stops
    reading when it sees it. TTL: run retention.
    """
    return f"{PREFIX}run:{run_id}"


def run_errors(run_id: str) -> str:
    """LIST of the first 100 error records (JSON) of a run, for the run document. TTL: retention."""
    return f"{PREFIX}run:{run_id}:errors"


def run_item_errors(run_id: str) -> str:
    """HASH item_id -> JSON error record, every invalid or failed item. TTL: retention."""
    return f"{PREFIX}run:{run_id}:item_errors"


def run_retry_items(run_id: str) -> str:
    """HASH item_id -> JSON prepared item of every item that failed at the provider.

    Kept so `coursesync retry` can resend exactly those items. TTL: retention.
    """
    return f"{PREFIX}run:{run_id}:retry_items"


def run_reasons(run_id: str) -> str:
    """HASH ``n:<stage>:<code>`` -> error records with that code, and ``m:<stage>:<code>`` -> one
    sample message: a run's failures by reason, so a summary across runs never reads its items.
    Writer: the ledger (``workers.ledger.reasons``), in the step that records the errors. TTL:
    retention."""
    return f"{PREFIX}run:{run_id}:reasons"


#: Width of a run timeline's buckets: fine enough to chart a one-minute run, coarse enough that
#: a day-long run holds at most 4 x 17,280 small fields.
TIMELINE_BUCKET_S = 5


def run_timeline(run_id: str) -> str:
    """HASH ``<epoch s // TIMELINE_BUCKET_S>:<ok|failed|req|429>`` -> count: items settled and
    provider requests sent (and answered 429) for the run, per time bucket, for its chart.
    Writer: ``workers.metrics.timeline`` (one HINCRBY per settled batch, one per request).
    TTL: retention, refreshed by each write."""
    return f"{PREFIX}run:{run_id}:timeline"


def run_batches(run_id: str) -> str:
    """LIST of the batch ids of a run, in order. Writer: producer. TTL: retention."""
    return f"{PREFIX}run:{run_id}:batches"


# ---------------------------------------------------------------- batches
def batch(batch_id: str) -> str:
    """HASH of one batch: run, connection, op, size, state, attempts, remote job ref, poll state,
    ``waited_ms`` (creation to first send).

    Writers: producer (creation), submit task, poller. TTL: run retention.
    """
    return f"{PREFIX}batch:{batch_id}"


def batch_items(batch_id: str) -> str:
    """STRING zlib-compressed JSON list of the batch's prepared items (id, digest, payload).

    Writer: producer. Deleted once the batch's outcome is recorded. TTL: ``batch_payload_ttl_s``.
    The Celery message carries only the batch id; the payload never travels through the broker.
    """
    return f"{PREFIX}batch:{batch_id}:items"


def batch_lock(batch_id: str) -> str:
    """STRING token held (SET NX PX) while a worker sends the batch, so no two workers send it.

    Its TTL outlives the submit task's hard time limit (``Settings.batch_lock_s``): a worker
    still sending always holds it."""
    return f"{PREFIX}batch:{batch_id}:lock"


# ---------------------------------------------------------------- dispatch (per connection)
#: SET of connection names that have batches waiting in their ready list.
READY_CONNECTIONS = PREFIX + "ready"

#: SET of connection names paused by `coursesync pause` (``workers.control``, its only writer;
#: removed by `coursesync resume`). While a connection is in it, ``admit.lua`` hands out none
#: of its batches and ``mark_sending.lua`` puts back any a worker already holds, so no request
#: of it leaves; its remote jobs are still polled. No TTL: a pause lasts until resumed.
PAUSED_CONNECTIONS = PREFIX + "paused"


def ready(connection: str, priority: str = "normal") -> str:
    """LIST of batch ids waiting to be handed to Celery, oldest first: one for ordinary runs, one
    for scheduled resyncs (``priority="low"``), which the pump serves after them (``admit.lua``).
    Writers: producer, pump."""
    return f"{PREFIX}conn:{connection}:ready" + ("" if priority == "normal" else f":{priority}")


def job_durations(connection: str) -> str:
    """HASH size bucket (bit length of the batch size) -> seconds: how long the connection's
    remote jobs typically take (``workers.ledger.durations``). TTL a week."""
    return f"{PREFIX}conn:{connection}:job_durations"


def budget_used(budget: str, bucket: str, slot: int) -> str:
    """STRING int: requests granted from ``bucket`` of ``budget`` in the 10 s ``slot``
    (epoch seconds // 10). Writer: ``gcra.lua``. TTL 11 minutes."""
    return f"{PREFIX}rl:{budget}:{bucket}:used:{slot}"


def passes(budget: str) -> str:
    """HASH connection -> pass (float): how much of ``budget`` each connection has been handed,
    over its weight; the fair queue serves the smallest first (``admit.lua``). TTL a day."""
    return f"{PREFIX}rl:{budget}:passes"


def budget_members(budget: str) -> str:
    """SET of the connections that spend ``budget``, each added when it hands out batches, so
    that a worker handing out a connection's next batches serves its peers fairly too. Writer:
    ``workers.dispatch``. TTL a day."""
    return f"{PREFIX}rl:{budget}:members"


def inflight(connection: str) -> str:
    """ZSET batch_id -> lease deadline ms: batches handed to Celery and not yet settled.

    Its size is capped at the connection's max_in_flight, which keeps the broker queue short
    and interleaves connections fairly. An expired lease means the worker died; the pump
    hands the batch out again.
    """
    return f"{PREFIX}conn:{connection}:inflight"


#: ZSET batch_id -> due time ms: batches waiting for rate-limit budget or a retry backoff.
#: The pump moves due ones back to their connection's ready list. Replaces long Celery ETAs.
DEFERRED = PREFIX + "deferred"

# ---------------------------------------------------------------- remote jobs (poller)
#: ZSET batch_id -> next poll due time ms. A sweep costs O(due jobs), not O(all jobs).
JOBS_DUE = PREFIX + "jobs:due"

#: STRING token: the lock that makes one status sweep run at a time (SET NX PX).
POLLER_LOCK = PREFIX + "lock:poller"

#: STRING token: the lock that makes one schedules sweep (scheduled resyncs) run at a time.
SCHEDULES_LOCK = PREFIX + "lock:schedules"

#: STRING token: the lock that makes one pump (deferred -> ready -> Celery) run at a time.
PUMP_LOCK = PREFIX + "lock:pump"

#: STRING token: the lock that makes one doctor pass (invariant check and repair) run at a time.
DOCTOR_LOCK = PREFIX + "lock:doctor"

#: STRING ms: when the doctor last ran its periodic pass (beat runs it every ``doctor_interval_s``).
DOCTOR_LAST = PREFIX + "doctor:last"


# ---------------------------------------------------------------- per-target state
# A target is the remote place a connection's items live in (``workers.targets``): a short
# digest of the connection, provider, base URL and the provider's key for the place (Kombo
# integration, StackOne account...). What coursesync remembers of the LMS is keyed by it, not
# by the connection's name alone, so a new integration or account starts from nothing and is
# sent everything.
def content_hashes(target: str, bucket: int) -> str:
    """HASH item_id -> 8-byte content digest of the item as last confirmed by the provider.

    Bucketed (``HASH_BUCKETS``) so each hash stays small enough for Redis' compact listpack
    encoding. Writer: result recording, under the target the batch was diffed against
    (``Batch.target``). Readers: the producer (diff) and pruning, under the run's target. No TTL:
    it is coursesync's memory of what that target holds.
    """
    return f"{PREFIX}target:{target}:hashes:{bucket}"


#: Number of buckets per target for content hashes (see ``content_hashes``).
HASH_BUCKETS = 4096


def item_bucket(item_id: str) -> int:
    """Which bucket of a target's per-item hashes holds ``item_id``."""
    return zlib.crc32(item_id.encode()) % HASH_BUCKETS


def remote_ids(target: str, bucket: int) -> str:
    """HASH item_id -> the provider's own id for the item (Kombo course id), once confirmed.

    Bucketed like ``content_hashes``. Writer: result recording (``Batch.target``). Reader:
    deactivation, under the connection's current target. No TTL.
    """
    return f"{PREFIX}target:{target}:remote_ids:{bucket}"


def bucket_fingerprints(target: str) -> str:
    """STRING of 16 hex chars per bucket (bucket b at offset 16 * b; NUL bytes: never written,
    empty): the XOR, over every item of that bucket of ``content_hashes``, of the first 64 bits
    of SHA-1(item_id NUL digest); a ``v`` after the last bucket says the string is complete
    (rebuilt from the digests once; kept exact since).

    A fan-out compares a catalog's fingerprints with these and reads the digests of only the
    buckets that differ (anti-entropy as Dynamo-style stores do it). Writers: the settle step
    (``workers/lua/_digests.lua``, in the same step as each digest) and the rebuild
    (``workers.ledger.fingerprints``). Reader: the fan-out (``producers.fanout``). No TTL.
    """
    return f"{PREFIX}target:{target}:fingerprints"


def sub_fingerprints(target: str) -> str:
    """STRING of 16 fingerprints of 16 hex chars per bucket: those of its 16 sub-buckets (an
    item's sub-bucket: the first hex digit of SHA-1 of its id), sub-bucket s of bucket b at
    offset 16 * (16 * b + s); a ``v`` after the last says it is complete. A fan-out reads the
    256 chars of a bucket whose fingerprint differs, then only the digests of the sub-buckets
    that differ (a 1 % change reads about 1 in 16 of a dirty bucket's digests). Writers and
    readers: as ``bucket_fingerprints``. No TTL."""
    return f"{PREFIX}target:{target}:fingerprints:sub"


# ---------------------------------------------------------------- per-connection state
def item_status(connection: str, bucket: int) -> str:
    """HASH item_id -> JSON list ``[state, at_ms, run_id, op, remote_id, code, message]`` (trailing
    empty values dropped): what coursesync last knew of each item at the connection.

    Bucketed like ``content_hashes`` (compact listpacks: millions of items stay affordable).
    Writers, through ``workers.ledger.item_status`` only: the producer (invalid, unchanged),
    result recording (succeeded, failed), ``producers.changes`` (queued, invalid). TTL: run
    retention, refreshed on every write to the bucket.
    """
    return f"{PREFIX}conn:{connection}:item_status:{bucket}"


def changes(connection: str) -> str:
    """HASH item_id -> ``U<item JSON>`` (upsert) or ``D`` (delete): item changes waiting for the
    connection's next flush; the last write per item wins. Writer: ``producers.changes``
    (submit). Moved whole into ``changes_taken`` by ``take_changes.lua``. No TTL."""
    return f"{PREFIX}conn:{connection}:changes"


def changes_taken(connection: str) -> str:
    """HASH, as ``changes``: the changes a flush took and has not yet turned into a run's enqueued
    batches. Deleted by ``finish_changes.lua`` once it has; found still there (the flusher died),
    the next flush sends it with the newer changes. No TTL: changes are never dropped."""
    return f"{PREFIX}conn:{connection}:changes:taken"


def changes_scheduled(connection: str) -> str:
    """STRING: a flush of the connection's changes is on the broker (SET NX PX). Writer: submit,
    which sends the flush with a countdown of one window when it sets it; deleted when a flush
    takes the changes. TTL a few windows, so a lost flush task is replaced by a later change."""
    return f"{PREFIX}conn:{connection}:changes:scheduled"


def changes_urgent(connection: str) -> str:
    """STRING: a flush was sent at once because a batch size of changes was waiting (SET NX PX,
    TTL one window), so calls arriving meanwhile do not each send another."""
    return f"{PREFIX}conn:{connection}:changes:urgent"


def changes_lock(connection: str) -> str:
    """STRING token (SET NX PX): the one flush of the connection's changes running now."""
    return f"{PREFIX}conn:{connection}:changes:lock"


#: ZSET connection -> ms of its oldest change not yet in a run. Writers: submit (ZADD NX),
#: ``finish_changes.lua``. Reader: the beat sweep of ``producers.changes``, which flushes
#: connections whose changes waited several windows (a flush task was lost).
CHANGES_WAITING = PREFIX + "changes:waiting"


def active_run(connection: str) -> str:
    """STRING run_id of the connection's scheduled resync while it runs; a due resync is skipped
    while it exists. Writer: the schedules sweep (SET NX, TTL ``SCHEDULED_RUN_CLAIM_S``); deleted
    when that run finishes."""
    return f"{PREFIX}conn:{connection}:active_run"


def schedule_state(connection: str) -> str:
    """HASH last_fired_ms, last_run_id, last_outcome, fired, skipped of the connection's schedule.

    Writer: the schedules sweep. No TTL."""
    return f"{PREFIX}conn:{connection}:schedule"


def integration_id(connection: str) -> str:
    """STRING 360Learning integration id created by coursesync for this connection. No TTL."""
    return f"{PREFIX}conn:{connection}:integration_id"


def integration_generation(connection: str) -> str:
    """STRING int: how many times coursesync stored or forgot the connection's created
    360Learning integration (INCR, in the same transaction as the change of ``integration_id``).

    Names the target of runs that start while no integration is known (``workers.targets``).
    Writer: ``Integrations``. No TTL.
    """
    return f"{PREFIX}conn:{connection}:integration_gen"


def oauth_token(connection: str) -> str:
    """STRING OAuth access token, *encrypted* with a key derived from the client secret.

    Redis never sees the plain token. TTL: a little under the token's own lifetime.
    """
    return f"{PREFIX}conn:{connection}:token"


def ti_job_rows(connection: str, job_id: str) -> str:
    """STRING JSON list of the item ids one Thought Industries import job carries.

    Thought Industries reports no per-row results after a job (ti_assumptions A8), so its
    poll settles these ids. Writer: TI submit. Reader: TI poll. TTL 7 days (beyond the job
    deadline); never deleted early, so a poll answer processed twice stays the same.
    """
    return f"{PREFIX}conn:{connection}:ti_job:{job_id}"


def oauth_token_lock(connection: str) -> str:
    """STRING holder token (SET NX PX): the one worker fetching a new OAuth token for the fleet.

    TTL: one request timeout + 5 s; the other workers wait for ``oauth_token`` to appear.
    """
    return f"{PREFIX}conn:{connection}:token:lock"


def integration_lock(connection: str) -> str:
    """STRING holder token (SET NX PX): the one worker creating the 360Learning integration.

    TTL: two request timeouts + 5 s (a creation, then maybe a lookup); the others wait for
    ``integration_id`` to appear.
    """
    return f"{PREFIX}conn:{connection}:integration_id:lock"


# ---------------------------------------------------------------- rate limits
def rate(budget: str, bucket: str, window: int = 0) -> str:
    """STRING GCRA theoretical arrival time (ms) of window number ``window`` of a request budget
    (``budget`` is a provider unit such as ``stackone:<digest>``, or ``connection:<name>`` for a
    connection's own cap; see ``workers.ratelimit.budgets``). Writer: ``gcra.lua``."""
    return f"{PREFIX}rl:{budget}:{bucket}:w{window}"


def pause(budget: str, bucket: str) -> str:
    """STRING reason: the provider told us to stop spending ``bucket`` of ``budget``; every
    worker of every connection on it waits until the key expires (PX = the provider's
    Retry-After / reset). Writer: feedback."""
    return f"{PREFIX}rl:{budget}:{bucket}:pause"


def learned_cap(connection: str) -> str:
    """STRING int: a concurrency limit the provider announced (Kombo's Concurrency-Limit) below
    the configured max_in_flight. TTL one hour, refreshed while the provider keeps saying it."""
    return f"{PREFIX}rl:{connection}:learned_cap"


def booking(connection: str, holder: str) -> str:
    """STRING ms (Redis clock): the moment a batch's next request was paid for in advance.
    Writer: the limiter (``workers.ratelimit.bookings``). TTL: a little past that moment."""
    return f"{PREFIX}rl:{connection}:booking:{holder}"


def slots(budget: str, kind: str) -> str:
    """ZSET holder -> lease deadline ms: a concurrency cap of a provider unit (360Learning's 3
    bulk operations per company) whose slots expire with their holder."""
    return f"{PREFIX}rl:{budget}:slots:{kind}"


# ---------------------------------------------------------------- ops
#: HASH worker hostname -> last time (ms) it finished a task. Writer: a ``task_postrun`` hook in
#: every worker. Readers: `coursesync health` (for its report) and the metrics endpoint.
#: Entries older than ``HEARTBEAT_FORGET_S`` are removed by the hourly cleanup.
WORKER_HEARTBEATS = PREFIX + "workers:heartbeat"

#: A worker silent this long has gone for good (scaled down, renamed): forget its heartbeat.
HEARTBEAT_FORGET_S = 86400


def health_pong(token: str) -> str:
    """STRING hostname of the worker that ran ``coursesync.ping`` ``token``. Writer: that task.
    Reader: `coursesync health`, which waits for it. TTL ``PONG_TTL_S``."""
    return f"{PREFIX}health:pong:{token}"


#: How long a ping's answer waits to be read; a health check never waits longer than this.
PONG_TTL_S = 120

#: STRING ms: when beat last published its tick (``coursesync.pump``). Writer: the beat process
#: (a ``before_task_publish`` hook). Reader: `coursesync health --beat`. No TTL.
BEAT_TICK = PREFIX + "beat:last_tick"

#: HASH housekeeping task name (``workers.ports.HOUSEKEEPING``) -> last time (ms) a run of it
#: succeeded; and HASH task name -> int count of its runs that did not. Writer: the
#: ``task_postrun`` hook in every worker. Reader: the metrics endpoint. No TTL (a fixed few
#: fields; the failures are a counter). Flower does not list these tasks: this is where they show.
HOUSEKEEPING_LAST_OK = PREFIX + "housekeeping:last_ok"
HOUSEKEEPING_FAILURES = PREFIX + "housekeeping:failures"

# ---------------------------------------------------------------- metrics
# Counters only grow; the metrics endpoint (`coursesync metrics`) reads them on each scrape.
# They have no TTL: Prometheus computes rates from them, and deleting them reads as a reset.

#: SET of connection names with counters, so a scrape finds them without SCAN.
#: Writers: whoever increments a connection's counters (the same pipeline or script).
METRICS_CONNECTIONS = PREFIX + "metrics:connections"


def conn_metrics(connection: str) -> str:
    """HASH counter name -> int of one connection; the names are in ``workers.metrics.record``.

    Writers: the settle script (items, batches), the producer (invalid, unchanged), the HTTP
    response hook (requests by status, pauses), submit and poller (limiter waits, retries),
    run end (runs by final state), the step that marks a batch sending (its wait). No TTL.
    """
    return f"{PREFIX}metrics:conn:{connection}"


#: HASH ``le:<bound>`` -> polls whose lateness fell in that (non-cumulative) bucket, plus
#: ``sum_ms`` and ``count``: how late status polls ran behind their due time. Writer: the
#: status sweep. No TTL.
POLL_DELAY = PREFIX + "metrics:poll_delay"

# ---------------------------------------------------------------- Celery's own keys (read only)
# Not ours and not in the namespace: Celery's Redis transport names them. Read by the metrics
# endpoint and `coursesync health`; never written by coursesync.

#: LIST: the broker queue every coursesync task goes to (``task_default_queue``).
# ---------------------------------------------------------------- the HTTP API
#: HASH token_id -> JSON token record (name, scopes, connections, created_at, the token's SHA-256;
#: never the token itself, so a dump of Redis lets nobody call the API).
#: Writer: ``api.tokens``. No TTL: tokens live until revoked.
API_TOKENS = PREFIX + "api:tokens"


def idempotency(token_id: str, key_digest: str) -> str:
    """STRING JSON {fingerprint, run_id} of a POST made with an ``Idempotency-Key``, per token.
    Writer: ``api.idempotency``. TTL: ``api_idempotency_ttl_s``."""
    return f"{PREFIX}api:idem:{token_id}:{key_digest}"


CELERY_QUEUE = "coursesync"
#: HASH: messages delivered to a worker and not yet acknowledged (kombu's Redis transport).
CELERY_UNACKED = "unacked"
