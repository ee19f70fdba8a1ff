"""Counting what happens, fleet-wide: one Redis hash of counters per connection.

Many worker processes on many machines count into the same hash, so a scrape sees the whole
fleet, whichever process serves it. Each function queues its increments on what the caller
passes: a pipeline it sends anyway (no extra round trip) or a client. Item and batch outcomes
are counted by the settle script itself (``workers/lua/settle_batch.lua``), in the same
atomic step as the run's counters, so the two always agree.

Field names of ``keys.conn_metrics`` (the collector reads the same ones)::

    items:<succeeded|failed|invalid|unchanged>   catalog items, by final outcome
    pruned:<succeeded|failed>                    deactivations of items gone from the catalog
    batches:<completed|failed>                   batches settled
    requests:<provider>:<2xx|3xx|4xx|429|5xx>    provider HTTP answers by status class
    pauses                                       answers that paused the fleet (429, quota spent)
    limiter_waits, limiter_wait_ms               deferrals by the rate limiter, and their length
    retries                                      transient failures that deferred a batch
    runs:<completed|completed_with_errors|failed|cancelled> runs ended, by final state
    wait:le:<bound>, wait:sum_ms                 batches by how long they waited to be sent
                                                 (non-cumulative buckets, ``BATCH_WAIT_BUCKETS_S``)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from workers import keys
from workers.metrics.timeline import count_request

__all__ = [
    "BATCH_WAIT_BUCKETS_S",
    "POLL_DELAY_BUCKETS_S",
    "batch_wait_field",
    "count_items",
    "count_limiter_wait",
    "count_pause",
    "count_response",
    "count_retry",
    "count_run_finished",
    "last_status",
    "observe_poll_delays",
    "status_class",
]

#: Upper bounds of the poll-lateness histogram. A sweep runs every tick (1 s), so most polls
#: land in the first buckets; the tail shows a poller that cannot keep up.
POLL_DELAY_BUCKETS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Upper bounds of the batch-wait histogram (creation by the producer to its first send). An
#: idle fleet sends within a second; a budget-bound connection queues for minutes; the README's
#: backlog alert fires at 1800 s, so the buckets reach past it to tell 30 minutes from hours.
BATCH_WAIT_BUCKETS_S = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)

_local = threading.local()


def _incr(pipe: Any, connection: str, counts: Mapping[str, int]) -> None:
    for name, delta in counts.items():
        if delta:
            pipe.hincrby(keys.conn_metrics(connection), name, delta)
    pipe.sadd(keys.METRICS_CONNECTIONS, connection)


def count_items(pipe: Any, connection: str, *, invalid: int = 0, unchanged: int = 0) -> None:
    """Items the producer settled itself (never sent): invalid, or unchanged since last time."""
    if invalid or unchanged:
        _incr(pipe, connection, {"items:invalid": invalid, "items:unchanged": unchanged})


def status_class(status_code: int) -> str:
    """``2xx``..``5xx``, with 429 apart: it is the one 4xx that means "slow down", not "wrong"."""
    return "429" if status_code == 429 else f"{status_code // 100}xx"


def count_response(r: Any, connection: str, provider: str, status_code: int) -> None:
    """One provider answer (called by the HTTP client's response hook, for every request); it
    counts on the timeline of the run it was made for too (``timeline.counting_for``)."""
    _local.status = status_code
    pipe = r.pipeline(transaction=False)
    _incr(pipe, connection, {f"requests:{provider}:{status_class(status_code)}": 1})
    count_request(pipe, status_code)
    pipe.execute()


def last_status(*, clear: bool = False) -> int | None:
    """The HTTP status of the last provider answer in this thread, for the batch log line;
    ``clear=True`` forgets it first (call that before a request, read it after)."""
    if clear:
        _local.status = None
    status: int | None = getattr(_local, "status", None)
    return status


def count_pause(pipe: Any, connection: str) -> None:
    """The provider told the fleet to stop (a 429 or a spent quota)."""
    _incr(pipe, connection, {"pauses": 1})


def count_limiter_wait(pipe: Any, connection: str, wait_s: float) -> None:
    """A batch or poll was put off because the connection's budget or job slots were spent."""
    _incr(pipe, connection, {"limiter_waits": 1, "limiter_wait_ms": max(1, round(wait_s * 1000))})


def count_retry(pipe: Any, connection: str) -> None:
    """A transient failure (429, 5xx, timeout) deferred a batch for another attempt."""
    _incr(pipe, connection, {"retries": 1})


def count_run_finished(pipe: Any, connection: str, state: str) -> None:
    _incr(pipe, connection, {f"runs:{state}": 1})


def batch_wait_field(wait_s: float) -> str:
    """The ``keys.conn_metrics`` field counting a batch that waited ``wait_s`` before it was sent
    (its non-cumulative bucket; the collector sums them up). The count itself is queued by the
    step that marks the batch sending (``workers/lua/mark_sending.lua``), once per batch."""
    bound = next((b for b in BATCH_WAIT_BUCKETS_S if wait_s <= b), None)
    return f"wait:le:{bound}" if bound is not None else "wait:le:+Inf"


def observe_poll_delays(r: Any, delays_s: Iterable[float]) -> None:
    """How late each status poll of one sweep ran behind its due time (one round trip)."""
    buckets: dict[str, int] = {}
    total_ms = count = 0
    for delay in delays_s:
        bound = next((b for b in POLL_DELAY_BUCKETS_S if delay <= b), None)
        name = f"le:{bound}" if bound is not None else "le:+Inf"
        buckets[name] = buckets.get(name, 0) + 1
        total_ms += max(0, round(delay * 1000))
        count += 1
    if not count:
        return
    pipe = r.pipeline(transaction=False)
    for name, n in buckets.items():
        pipe.hincrby(keys.POLL_DELAY, name, n)
    pipe.hincrby(keys.POLL_DELAY, "sum_ms", total_ms)
    pipe.hincrby(keys.POLL_DELAY, "count", count)
    pipe.execute()
