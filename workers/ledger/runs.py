"""Run records: created by the producer, counted by batch transitions, sealed, ended once.

A run's hash holds its identity (connection, provider, target), its options, its state and its
exact counters (``c_*`` items, ``b_*`` batches, ``p_*`` prune, ``s_*`` splits). The counters
change only inside the ledger's atomic scripts (``workers/lua``), so they always add up.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import redis

from workers import keys, lua
from workers.ledger.reasons import chart_settled, queue_reasons

__all__ = [
    "BATCH_STATES",
    "COUNTS",
    "ERRORS_MAX",
    "FINAL_STATES",
    "add_counts",
    "claim_start",
    "create_run",
    "finalize_run",
    "heartbeat",
    "hold_open",
    "new_run_id",
    "note",
    "now_iso",
    "record_item_errors",
    "record_prune_plan",
    "reserve_run",
    "run_keys",
    "seal_run",
    "trim_runs_index",
]

#: The run document lists at most this many errors (product.md); all are kept per item.
ERRORS_MAX = 100
#: States a run ends in; ``cancelled``: `coursesync cancel` stopped it (``workers.control``).
FINAL_STATES = frozenset({"completed", "completed_with_errors", "failed", "cancelled"})

#: ``excluded``: left out by the connection's entitlement filter (``workers.entitlements``).
COUNTS = ("total", "invalid", "unchanged", "excluded", "submitted", "succeeded", "failed")
BATCH_STATES = ("total", "pending", "submitted", "completed", "failed", "split")
#: How SEAL_RUN words the items a producer counted but never put in a batch (%d: how many).
_NEVER_SENT = (
    "%d items were read but never sent: the producer stopped before it could batch them; "
    "sync the catalog again"
)
#: How SEAL_RUN words the items a cancelled run's producer read but did not batch.
_CANCELLED_UNSENT = "%d items were read but not sent: the run was cancelled; sync again to send them"


def now_iso() -> str:
    """UTC now as ISO 8601 with a Z, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """``r_`` + UTC timestamp + random suffix: unique, and sorts by creation time."""
    return "r_" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "_" + secrets.token_hex(3)


def create_run(
    r: redis.Redis,
    *,
    run_id: str,
    connection: str,
    provider: str,
    retention_s: int,
    options: dict[str, Any] | None = None,
    target: str = "",
    target_label: str = "",
    webhook_url: str = "",
) -> None:
    """Record a new run in state ``queued`` with zeroed counters.

    ``target`` is the id of the remote place the run diffs against and writes to
    (``workers.targets``); ``target_label`` says which place that is, in words.
    """
    created_ms = int(time.time() * 1000)
    fields: dict[Any, Any] = {
        "run_id": run_id,
        "connection": connection,
        "provider": provider,
        "state": "queued",
        "created_at": now_iso(),
        "created_ms": created_ms,
        "sealed": "0",
        "options": json.dumps(options or {}),
        "target": target,
        "target_label": target_label,
        # The run's own webhook (``sync --webhook``): as given, or sealed if it holds a secret.
        "webhook_url": webhook_url,
    }
    fields.update({f"c_{c}": 0 for c in COUNTS})
    fields.update({f"b_{b}": 0 for b in BATCH_STATES})
    pipe = r.pipeline()
    pipe.hset(keys.run(run_id), mapping=fields)
    pipe.expire(keys.run(run_id), retention_s)
    pipe.zadd(keys.RUNS_INDEX, {run_id: created_ms})
    pipe.zadd(keys.runs_of(connection), {run_id: created_ms})
    pipe.execute()
    heartbeat(r, run_id)


def reserve_run(
    r: redis.Redis,
    *,
    run_id: str,
    connection: str,
    provider: str,
    retention_s: int,
    grace_s: float,
    options: dict[str, Any] | None = None,
    source: str = "",
    webhook_url: str = "",
) -> None:
    """Record a run that a producer task will start (``start_run(run_id=...)``) before the task
    exists, so its id can be answered at once and always leads somewhere. The producer has
    ``grace_s`` to show its first sign of life (it may wait in the broker's queue behind others);
    past that the doctor ends the run with the reason, as for a producer that died.

    ``source`` is where the catalog is (sealed when it carries credentials), ``webhook_url`` the
    run's own webhook (likewise); the producer reads both back from the record."""
    create_run(
        r,
        run_id=run_id,
        connection=connection,
        provider=provider,
        retention_s=retention_s,
        options=options,
        webhook_url=webhook_url,
    )
    r.hset(keys.run(run_id), "source", source)
    seconds, micros = r.time()
    r.zadd(keys.OPEN_RUNS, {run_id: int(seconds * 1000 + micros // 1000 + grace_s * 1000)})


def hold_open(r: redis.Redis, run_ids: list[str], grace_s: float) -> None:
    """Give reserved runs ``grace_s`` more before the doctor counts their producer as silent
    (a fan-out's runs wait for the catalog to be read, then for a worker to take them)."""
    if run_ids:
        seconds, micros = r.time()
        until = int(seconds * 1000 + micros // 1000 + grace_s * 1000)
        r.zadd(keys.OPEN_RUNS, dict.fromkeys(run_ids, until), xx=True)


def claim_start(r: redis.Redis, run_id: str) -> bool:
    """The one producer of a reserved run claims it: False when another already did (a task
    delivered twice must not read the catalog twice and send every item in two batches)."""
    return bool(r.hsetnx(keys.run(run_id), "producer_started", now_iso()))


def run_keys(run_id: str, connection: str) -> list[str]:
    """The keys a script that may end the run needs (``workers/lua/_finalize.lua``), in order."""
    return [
        keys.run(run_id),
        keys.run_errors(run_id),
        keys.run_item_errors(run_id),
        keys.run_retry_items(run_id),
        keys.run_batches(run_id),
        keys.OUTBOX,
        keys.active_run(connection),
        keys.conn_metrics(connection),
        keys.METRICS_CONNECTIONS,
        keys.OPEN_RUNS,
    ]


def heartbeat(r: Any, run_id: str) -> None:
    """The producer of ``run_id`` is alive; a run whose producer falls silent is ended by the
    doctor (``workers.doctor``) instead of staying open for ever."""
    lua.run(r, "heartbeat", [keys.OPEN_RUNS], [run_id])


def add_counts(pipe: Any, run_id: str, **deltas: int) -> None:
    """Queue counter increments (``total=3, invalid=1, batches=1, batched=250``) on a pipeline.

    ``batched`` counts catalog items put in a batch: an item counted in ``total`` but neither
    invalid, unchanged nor batched when the run is sealed was lost with its producer.
    """
    for name, delta in deltas.items():
        if delta:
            field = "b_total" if name == "batches" else f"c_{name}"
            pipe.hincrby(keys.run(run_id), field, delta)
            if name == "batches":
                pipe.hincrby(keys.run(run_id), "b_pending", delta)


def record_item_errors(
    pipe: Any, run_id: str, errors: dict[str, list[dict[str, Any]]], retention_s: int
) -> None:
    """Queue per-item error records, and their counts by reason; the first ``ERRORS_MAX`` also go
    to the run document."""
    if not errors:
        return
    queue_reasons(pipe, run_id, (e for errs in errors.values() for e in errs), retention_s)
    pipe.hset(keys.run_item_errors(run_id), mapping={k: json.dumps(v) for k, v in errors.items()})
    pipe.expire(keys.run_item_errors(run_id), retention_s)
    flat = [json.dumps(e) for errs in errors.values() for e in errs]
    lua.run(pipe, "push_capped", [keys.run_errors(run_id)], [ERRORS_MAX, *flat[:ERRORS_MAX]])
    pipe.expire(keys.run_errors(run_id), retention_s)


def seal_run(
    r: redis.Redis, run_id: str, connection: str, *, retention_s: int, fatal: str = ""
) -> str | None:
    """The producer is done (or was found dead, with ``fatal`` saying so): end the run now if
    every batch has settled. Returns the final state if this call ended the run."""
    args = [now_iso(), retention_s, fatal, _NEVER_SENT, _CANCELLED_UNSENT]
    # What the script is about to count failed (read but never batched), for the dashboard: the
    # producer is done, so nothing moves these counters between this read and the seal.
    seen = r.hmget(
        keys.run(run_id), "sealed", "c_total", "c_invalid", "c_unchanged", "c_batched", "cancel_requested"
    )
    result = lua.run(r, "seal_run", run_keys(run_id, connection), args)
    lost = int(seen[1] or 0) - sum(int(n or 0) for n in seen[2:5])
    if seen[0] not in ("1", b"1") and lost > 0:
        code, message = (
            ("coursesync.CANCELLED", _CANCELLED_UNSENT) if seen[5] else ("coursesync.NEVER_SENT", _NEVER_SENT)
        )
        err = {"stage": "producer", "code": code, "message": message % lost}
        chart_settled(r, run_id, [err], succeeded=0, retention_s=retention_s, times=lost)
    return str(result) if result else None


def finalize_run(r: redis.Redis, run_id: str, connection: str, *, retention_s: int) -> str | None:
    """End the run if it is sealed and settled (idempotent). Returns the final state if it did."""
    result = lua.run(r, "finalize_run", run_keys(run_id, connection), [now_iso(), retention_s])
    return str(result) if result else None


def record_prune_plan(r: redis.Redis, run_id: str, *, candidates: int, refused: str) -> None:
    """What pruning found to deactivate, and why it refused to (``""``: it did not)."""
    r.hset(keys.run(run_id), mapping={"p_candidates": candidates, "p_refused": refused})


def note(r: redis.Redis, run_id: str, field: str, text: str) -> None:
    """A line of news about a finished run (``webhook``: how its announcement went)."""
    r.hset(keys.run(run_id), field, text)


def trim_runs_index(r: redis.Redis, retention_s: int) -> int:
    """Forget index entries of runs whose records expired (older than the retention)."""
    cutoff_ms = int((time.time() - retention_s) * 1000)
    # One index per connection: a handful of keys, found by their common prefix.
    for key in r.scan_iter(match=keys.runs_of("*"), count=1000):
        r.zremrangebyscore(key, "-inf", cutoff_ms)
    return int(r.zremrangebyscore(keys.RUNS_INDEX, "-inf", cutoff_ms))
