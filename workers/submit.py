"""Sending one batch to its provider: the body of the ``coursesync.submit_batch`` task.

Order matters for "nothing lost, nothing sent twice": the batch is locked before the request
so two deliveries of one message cannot both send it; the remote job reference is stored
before the function returns, and the task acknowledges its message only after that
(``acks_late``). A redelivered message finds the batch already submitted and does nothing.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import redis

from workers import keys
from workers.budget import take_budget
from workers.config import Settings
from workers.connections import Connection
from workers.dispatch import defer, dispatch, settle_inflight
from workers.errors import (
    ConcurrencyLimited,
    ConfigError,
    CoursesyncError,
    PermanentError,
    RateLimited,
    TransientError,
)
from workers.logs import batch_event
from workers.metrics import count_limiter_wait, count_retry, last_status
from workers.outcomes import fail_batch, record_results
from workers.providers.base import Provider
from workers.ratelimit import Limits
from workers.retry import decide
from workers.store.batches import Batch, load_batch, load_items, mark_submitted

__all__ = ["Deps", "submit_batch"]

log = logging.getLogger(__name__)

Outcome = Literal["missing", "skipped", "deferred", "submitted", "settled", "failed"]


@dataclass(frozen=True)
class Deps:
    """What ``submit_batch`` needs from the outside world (tests pass fakes)."""

    r: redis.Redis
    raw_r: redis.Redis
    settings: Settings
    get_connection: Callable[[str], Connection]
    get_provider: Callable[[str], Provider]


def submit_batch(batch_id: str, deps: Deps) -> Outcome:
    """Send batch ``batch_id`` once, or defer it; never raises for provider trouble."""
    r, settings = deps.r, deps.settings
    batch = load_batch(r, batch_id)
    if batch is None:
        log.warning("batch not found (expired with its run?) batch=%r", batch_id)
        return "missing"
    try:
        connection = deps.get_connection(batch.connection)
    except ConfigError as exc:
        _fail(deps, batch, code="coursesync.CONFIG", message=str(exc))
        return "failed"
    limits = Limits.on(r)
    try:
        if batch.state != "pending":
            return "skipped"  # a duplicate delivery after the batch moved on
        # A job slot first (360Learning runs 3 bulk operations at once), then a request.
        wait_s = limits.take_job_slot(connection, batch.id) or take_budget(
            r, limits, connection, connection.spec.submit_bucket, batch
        )
        if wait_s > 0:
            count_limiter_wait(r, batch.connection, wait_s)
            defer(r, batch.connection, batch.id, wait_s, lease_s=settings.batch_lease_s)
            return "deferred"
        outcome = _send_locked(deps, batch, connection)
        if outcome != "submitted":
            limits.release_job_slot(connection, batch.id)  # no remote job runs for it
        return outcome
    finally:
        dispatch(r, connection, lease_s=settings.batch_lease_s)


def _send_locked(deps: Deps, batch: Batch, connection: Connection) -> Outcome:
    r, settings = deps.r, deps.settings
    token = secrets.token_hex(8)
    lock_ms = int((settings.provider_timeout_s * 2 + 10) * 1000)
    if not r.set(keys.batch_lock(batch.id), token, nx=True, px=lock_ms):
        # Another worker is sending this very batch right now; look again later.
        defer(
            r,
            batch.connection,
            batch.id,
            settings.provider_timeout_s,
            lease_s=settings.batch_lease_s,
        )
        return "deferred"
    try:
        return _send(deps, batch, connection)
    finally:
        # Release only our own lock (a slow request may have outlived it).
        if r.get(keys.batch_lock(batch.id)) == token:
            r.delete(keys.batch_lock(batch.id))


def _send(deps: Deps, batch: Batch, connection: Connection) -> Outcome:
    r, raw_r, settings = deps.r, deps.raw_r, deps.settings
    items = load_items(raw_r, batch.id)
    if items is None:
        settle_inflight(r, batch.connection, batch.id)
        record_results(r, raw_r, batch, [], settings)  # counts the lost payload as failed
        return "failed"
    started = time.monotonic()
    last_status(clear=True)
    try:
        provider = deps.get_provider(batch.connection)
        submission = provider.submit(batch.op, items)  # type: ignore[arg-type]
    except TransientError as exc:
        return _retry_or_fail(deps, batch, exc, started)
    except (PermanentError, ConfigError) as exc:
        _fail(deps, batch, code=_code(exc), message=_message(exc), status=_status(exc), started=started)
        return "failed"
    duration_ms = round((time.monotonic() - started) * 1000)
    settle_inflight(r, batch.connection, batch.id)
    if submission.job_ref is None:
        record_results(r, raw_r, batch, submission.results, settings)
        batch_event(
            log,
            logging.INFO,
            "batch answered",
            batch,
            status=last_status(),
            items=len(items),
            duration_ms=duration_ms,
        )
        return "settled"
    mark_submitted(r, batch, submission.job_ref, settings.poll_initial_delay_s, list(submission.results))
    batch_event(
        log,
        logging.INFO,
        "batch submitted",
        batch,
        status=last_status(),
        items=len(items),
        job=submission.job_ref,
        duration_ms=duration_ms,
    )
    return "submitted"


def _retry_or_fail(deps: Deps, batch: Batch, exc: TransientError, started: float) -> Outcome:
    r, settings = deps.r, deps.settings
    throttled = isinstance(exc, RateLimited | ConcurrencyLimited)
    field = "throttles" if throttled else "attempts"
    count = int(r.hincrby(keys.batch(batch.id), field, 1))
    r.hset(keys.batch(batch.id), "last_error", exc.reason)
    decision = decide(
        exc,
        attempts=count if not throttled else batch.attempts,
        throttles=count if throttled else 0,
        settings=settings,
    )
    if not decision.retry:
        code = exc.code or type(exc).__name__
        _fail(deps, batch, code=code, message=decision.reason, status=exc.status_code, started=started)
        return "failed"
    count_retry(r, batch.connection)
    batch_event(
        log,
        logging.WARNING,
        "batch will retry",
        batch,
        status=exc.status_code,
        duration_ms=round((time.monotonic() - started) * 1000),
        throttles=count if throttled else None,
        delay_s=round(decision.delay_s, 1),
        reason=exc.reason,
    )
    defer(r, batch.connection, batch.id, decision.delay_s, lease_s=settings.batch_lease_s)
    return "deferred"


def _fail(
    deps: Deps,
    batch: Batch,
    *,
    code: str,
    message: str,
    status: int | None = None,
    started: float | None = None,
) -> None:
    settle_inflight(deps.r, batch.connection, batch.id)
    duration_ms = round((time.monotonic() - started) * 1000) if started is not None else None
    batch_event(
        log,
        logging.ERROR,
        "batch failed",
        batch,
        status=status,
        duration_ms=duration_ms,
        code=code,
        reason=message,
    )
    fail_batch(deps.r, deps.raw_r, batch, code=code, message=message, settings=deps.settings)


def _code(exc: CoursesyncError) -> str:
    return getattr(exc, "code", None) or type(exc).__name__


def _status(exc: CoursesyncError) -> int | None:
    status: int | None = getattr(exc, "status_code", None)
    return status


def _message(exc: CoursesyncError) -> str:
    return getattr(exc, "reason", None) or str(exc)
