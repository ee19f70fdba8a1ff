"""How long a connection's remote jobs take, learned from its own jobs, so a job is polled
when it is likely done.

For slot-bound providers (360Learning runs 3 bulk operations per company) throughput is slots
divided by the time from submission to noticing the end, so a poll every 2 s wastes up to a
quarter of a 3 s operation's slot. Durations are kept per connection and per batch size (by
powers of two: 1,000 and 1,500 items share a bucket), as a moving average of what each job's
polls bracket: it was still running at the last poll that saw it pending, and it was over at
the one that saw it end.
"""

from __future__ import annotations

import redis

from workers import keys, lua
from workers.ledger.batches import Batch

__all__ = ["ON_TIME_MS", "expected_s", "first_poll_s", "next_poll_s", "observe"]

#: A poll sent later than this after it was due (it waited for the request budget) teaches
#: nothing: the observe() caller checks.
ON_TIME_MS = 300
#: Weight of the newest job in the moving average.
_ALPHA = 0.3
#: Kept this long without a new job (a connection's jobs change with its provider's load).
_TTL_S = 7 * 86400
#: Never poll faster than this, whatever was learned (each poll costs a request).
MIN_POLL_S = 0.25
#: A job seen ended at its first poll says only "no longer than that": the sample is taken a
#: little below, so the estimate probes down until a poll sees a job still running.
_PROBE_DOWN = 0.9
#: A bracket wider than this (and than half the job) is too loose to learn from.
_LOOSE_S = 2.5
#: The first poll goes a little after the expected end, so a typical job needs one poll.
_FIRST_POLL_AFTER = 1.03


def _bucket(size: int) -> str:
    return str(max(1, size).bit_length())


def observe(r: redis.Redis, batch: Batch, *, now_ms: int, ended: bool) -> None:
    """Record a poll's answer: still running (``ended`` False) or over."""
    if batch.submitted_ms is None:
        return
    if not ended:
        lua.run(r, "set_if_exists", [keys.batch(batch.id)], ["pending_seen_ms", now_ms])
        return
    if batch.poll_errors or batch.throttles:
        return  # its polls were held back (an outage, a pause): the bracket says nothing
    upper = (now_ms - batch.submitted_ms) / 1000
    if batch.pending_seen_ms:
        lower = (batch.pending_seen_ms - batch.submitted_ms) / 1000
        if upper - lower > max(_LOOSE_S, upper / 2):
            return  # polled too far apart to tell (the fixed schedule's back-off, a slow sweep)
        sample = (lower + upper) / 2
    else:
        sample = upper * _PROBE_DOWN
    key = keys.job_durations(batch.connection)
    old = r.hget(key, _bucket(batch.size))
    value = sample if old is None else (1 - _ALPHA) * float(old) + _ALPHA * sample
    r.hset(key, _bucket(batch.size), f"{max(0.0, value):.3f}")
    r.expire(key, _TTL_S)


def expected_s(r: redis.Redis, connection: str, size: int) -> float | None:
    """The typical duration of a job of ``size`` items at ``connection``, once learned."""
    found = r.hget(keys.job_durations(connection), _bucket(size))
    return float(found) if found is not None else None


def first_poll_s(r: redis.Redis, batch: Batch, default_s: float) -> float:
    """When to poll a job first: just after it is likely done, once that is known."""
    expected = expected_s(r, batch.connection, batch.size)
    return default_s if expected is None else max(MIN_POLL_S, expected * _FIRST_POLL_AFTER)


def next_poll_s(r: redis.Redis, batch: Batch, age_s: float) -> float | None:
    """How soon to poll a job still running at ``age_s`` while it is within twice its expected
    duration (a fifth of that duration); None once past that, or nothing is learned yet."""
    expected = expected_s(r, batch.connection, batch.size)
    if expected is None or age_s > 2 * expected:
        return None
    return max(MIN_POLL_S, expected / 5)
