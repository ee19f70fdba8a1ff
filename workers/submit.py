"""Sending one batch to its provider: the body of the ``coursesync.submit_batch`` task.

A batch becomes at most one remote job, and no failure is silent:

- the batch is locked before its request, and its state is read again *under* the lock, so two
  deliveries of one message cannot both send it; the lock outlives the task's hard time limit
  (``workers.timing``), so a worker still sending always holds it;
- a ``sending`` mark is set just before the request and cleared by whatever records the
  outcome. An attempt that finds it set knows a worker stopped mid-send: the provider may have
  the batch. So does a lost answer (``AnswerLost``) or an unreadable one (``UnverifiedAnswer``).
  Then the batch is sent again only if its provider is ``resend_safe``; otherwise its items fail
  with ``UNVERIFIED`` and the next sync sends them;
- a cancelled run's batch, or a paused connection's, never leaves: the step that sets the
  ``sending`` mark refuses it (``workers.control``);
- the remote job reference is stored, and the batch leaves its in-flight lease, in one atomic
  step before the task acknowledges its message (``acks_late``);
- any exception, not only those of the error tree, is an attempt: counted, backed off, and
  after ``max_attempts`` a visible failure naming it. A connection missing from the config (a
  half-written file, a variable missing on one host) is an attempt too, like an outage.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Literal

from workers import keys, ledger
from workers.connections import Connection
from workers.crashpoints import crash_point
from workers.deps import Deps
from workers.dispatch import defer, dispatch, timing
from workers.errors import (
    UNVERIFIED,
    AnswerLost,
    ConcurrencyLimited,
    ConfigError,
    CoursesyncError,
    PermanentError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    TransientError,
    UnverifiedAnswer,
)
from workers.ledger import Batch, durations
from workers.locks import lock, remaining_s
from workers.logs import batch_event
from workers.metrics import count_limiter_wait, count_retry, last_status
from workers.metrics.timeline import counting_for
from workers.providers.base import OutboundItem, Provider, Submission
from workers.providers.deadline import track_writes
from workers.ratelimit import Limits
from workers.retry import decide
from workers.splitting import split_rejected

__all__ = ["Outcome", "submit_batch"]

log = logging.getLogger(__name__)

Outcome = Literal["missing", "skipped", "deferred", "submitted", "settled", "failed", "split", "paused"]


def submit_batch(batch_id: str, deps: Deps) -> Outcome:
    """Send batch ``batch_id`` once, or defer it; records every failure, never raises for one."""
    batch = ledger.load_batch(deps.r, batch_id)
    if batch is None:
        log.warning("batch not found (expired with its run?) batch=%r", batch_id)
        return "missing"
    if batch.state != "pending":
        return "skipped"  # a duplicate delivery after the batch moved on
    connection: Connection | None = None
    try:
        connection = deps.get_connection(batch.connection)
        return _submit(deps, batch, connection)
    except Exception as exc:
        if not isinstance(exc, ConfigError):
            log.exception("unexpected error submitting batch=%r", batch.id)
        # Nothing was sent by this attempt; a sending mark an earlier one left must stay.
        return _retry_or_fail(
            deps, batch, connection, _as_transient(exc, batch), time.monotonic(), sent=False
        )
    finally:
        try:
            dispatch(
                deps.r,
                batch.connection,
                connection,
                deps.settings,
                deps.send,
                get_connection=deps.get_connection,
            )
        except Exception:
            log.exception("dispatch after batch=%r failed", batch.id)


def _submit(deps: Deps, batch: Batch, connection: Connection) -> Outcome:
    r = deps.r
    limits = Limits.on(r)
    # The client is built before the request is granted: a worker's first one for a connection
    # takes 50-150 ms on a busy host, and a request leaving that late after its grant reaches
    # the provider together with those granted since, tripping a window that counts every
    # request in any W seconds (``workers.quota.late_slack_ms``: 204 ms for 30 per 10 s).
    provider = deps.get_provider(batch.connection)
    # A job slot first (360Learning runs 3 bulk operations at once), then a request.
    wait_s = limits.take_job_slot(connection, batch.id) or limits.take_request(
        connection, connection.spec.submit_bucket, batch.id, cost=connection.spec.quota_per_submit
    )
    if wait_s > 0:
        count_limiter_wait(r, batch.connection, wait_s)
        _defer(deps, batch, connection, wait_s)
        return "deferred"
    outcome = _send_locked(deps, batch, connection, provider)
    if outcome != "submitted":
        limits.release_job_slot(connection, batch.id)  # no remote job runs for it
    return outcome


def _send_locked(deps: Deps, batch: Batch, connection: Connection, provider: Provider) -> Outcome:
    r = deps.r
    with lock(r, keys.batch_lock(batch.id), ttl_s=timing(deps.settings, connection).lock_s) as held:
        if not held:
            # Another worker is sending this very batch right now; look again when its lock ends.
            _defer(deps, batch, connection, max(1.0, remaining_s(r, keys.batch_lock(batch.id))))
            return "deferred"
        crash_point("submit.after_lock")
        current = ledger.load_batch(r, batch.id)  # the state may have moved on before we held the lock
        if current is None or current.state != "pending":
            return "skipped"
        if current.sending:
            lost = AnswerLost(
                "a worker stopped while sending this batch (killed, or Redis refused to record "
                "the answer), so coursesync cannot tell whether the provider received it",
                provider=connection.provider,
                connection=connection.name,
            )
            return _ambiguous(deps, current, connection, lost, time.monotonic())
        return _send(deps, current, connection, provider, secrets.token_hex(8))


def _send(deps: Deps, batch: Batch, connection: Connection, provider: Provider, token: str) -> Outcome:
    r, raw_r, settings = deps.r, deps.raw_r, deps.settings
    items = ledger.load_items(raw_r, batch.id)
    if items is None:
        ledger.record_results(r, raw_r, batch, [], settings)  # counts the lost payload as failed
        return "failed"
    marked = ledger.mark_sending(r, batch, token)
    if marked != "ok":
        return _refused(deps, batch, marked)
    crash_point("submit.before_send")
    started = time.monotonic()
    last_status(clear=True)
    with counting_for(batch.run_id, settings.run_retention_s):  # its requests chart on the run
        answer = _call_provider(deps, batch, connection, provider, items, started=started)
    if isinstance(answer, str):
        return answer  # the attempt failed, and what became of the batch is recorded
    crash_point("submit.after_send")
    duration_ms = round((time.monotonic() - started) * 1000)
    if answer.job_ref is None:
        ledger.record_results(r, raw_r, batch, answer.results, settings)
        batch_event(log, logging.INFO, "batch answered", batch, status=last_status(), items=len(items),
                    duration_ms=duration_ms)  # fmt: skip
        crash_point("submit.after_record")
        return "settled"
    first_poll_s = settings.poll_initial_delay_s
    if settings.poll_learn_durations:
        first_poll_s = durations.first_poll_s(r, batch, first_poll_s)
    if not ledger.mark_submitted(r, batch, answer.job_ref, first_poll_s, list(answer.results)):
        log.warning("batch=%r was settled while its request ran; job %r is not tracked", batch.id,
                    answer.job_ref)  # fmt: skip
    batch_event(log, logging.INFO, "batch submitted", batch, status=last_status(), items=len(items),
                job=answer.job_ref, duration_ms=duration_ms)  # fmt: skip
    crash_point("submit.after_record")
    return "submitted"


def _refused(deps: Deps, batch: Batch, marked: str) -> Outcome:
    """The batch may not leave (decided in the step that would have marked it sending)."""
    if marked == "cancelled":
        ledger.cancel_batch(deps.r, deps.raw_r, batch, deps.settings)  # never sent: CANCELLED
        return "failed"
    if marked == "paused":
        return "paused"  # put back in its ready list; sent once the connection resumes
    return "skipped"


def _call_provider(
    deps: Deps,
    batch: Batch,
    connection: Connection,
    provider: Provider,
    items: list[OutboundItem],
    *,
    started: float,
) -> Submission | Outcome:
    """The provider's answer, or, when the attempt failed, what was done about it."""
    with track_writes() as writes:
        try:
            return provider.submit(batch.op, items)  # type: ignore[arg-type]
        except (AnswerLost, UnverifiedAnswer) as exc:
            return _ambiguous(deps, batch, connection, exc, started)
        except (TransientError, ConfigError) as exc:
            return _retry_or_fail(deps, batch, connection, _as_transient(exc, batch), started)
        except ProviderRejected as exc:
            return split_rejected(deps.r, batch, items, exc, deps.settings) or _fail(
                deps, batch, code=_code(exc), message=exc.reason, status=exc.status_code, started=started
            )
        except PermanentError as exc:
            status = exc.status_code
            return _fail(deps, batch, code=_code(exc), message=exc.reason, status=status, started=started)
        except Exception as exc:  # a bug or a foreign error: still an attempt
            log.exception("unexpected error sending batch=%r", batch.id)
            unexpected = _as_transient(exc, batch)
            # Failed after a request that may have changed something left: the fate is unknown.
            return (
                _ambiguous(deps, batch, connection, AnswerLost(unexpected.message), started)
                if writes.sent
                else _retry_or_fail(deps, batch, connection, unexpected, started)
            )


def _ambiguous(
    deps: Deps, batch: Batch, connection: Connection, exc: ProviderError, started: float
) -> Outcome:
    """The provider may have acted on the batch: resend only where that cannot make a second
    job; otherwise fail its items as unverified, for the next sync to send again."""
    try:
        resend_safe = bool(deps.get_provider(batch.connection).resend_safe)
    except CoursesyncError:
        resend_safe = False
    if resend_safe:
        transient = exc if isinstance(exc, TransientError) else _as_transient(exc, batch)
        return _retry_or_fail(deps, batch, connection, transient, started)
    message = (
        f"{exc.reason}. {connection.provider} may have started a job for this batch that "
        "coursesync cannot track, and sending it again could start a second one, so its items "
        "are not counted as sent: the next sync (or `coursesync retry`) sends them again"
    )
    _fail(deps, batch, code=UNVERIFIED, message=message, status=exc.status_code, started=started)
    return "failed"


def _retry_or_fail(
    deps: Deps,
    batch: Batch,
    connection: Connection | None,
    exc: TransientError,
    started: float,
    *,
    sent: bool = True,
) -> Outcome:
    """Count the attempt and try again later, or fail after the last one. ``sent``: this attempt
    sent the batch and knows the provider did not process it (its sending mark is cleared)."""
    r, settings = deps.r, deps.settings
    throttled = isinstance(exc, RateLimited | ConcurrencyLimited)
    count = ledger.count_attempt(r, batch.id, throttled=throttled, reason=exc.reason)
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
    _defer(deps, batch, connection, decision.delay_s, answered=sent)
    return "deferred"


def _defer(
    deps: Deps, batch: Batch, connection: Connection | None, delay_s: float, *, answered: bool = False
) -> None:
    defer(deps.r, batch.connection, batch.id, delay_s, connection=connection, settings=deps.settings,
          send=deps.send, answered=answered)  # fmt: skip


def _fail(
    deps: Deps,
    batch: Batch,
    *,
    code: str,
    message: str,
    status: int | None = None,
    started: float | None = None,
) -> Outcome:
    duration_ms = round((time.monotonic() - started) * 1000) if started is not None else None
    batch_event(log, logging.ERROR, "batch failed", batch, status=status, duration_ms=duration_ms,
                code=code, reason=message)  # fmt: skip
    ledger.fail_batch(deps.r, deps.raw_r, batch, code=code, message=message, settings=deps.settings)
    return "failed"


def _as_transient(exc: BaseException, batch: Batch) -> TransientError:
    """Any failure as a retryable one, its message naming what it was."""
    if isinstance(exc, TransientError):
        return exc
    if isinstance(exc, ConfigError):
        message = f"configuration problem (retried like an outage): {exc}"
        return ProviderUnavailable(message, connection=batch.connection, code="coursesync.CONFIG")
    if isinstance(exc, ProviderError):
        return ProviderUnavailable(exc.message, provider=exc.provider, connection=exc.connection,
                                   status_code=exc.status_code, code=exc.code, url=exc.url)  # fmt: skip
    message = f"unexpected {type(exc).__name__}: {exc}"
    return ProviderUnavailable(message, connection=batch.connection, code="coursesync.UNEXPECTED")


def _code(exc: CoursesyncError) -> str:
    return getattr(exc, "code", None) or type(exc).__name__
