"""The status sweep: poll every remote job that is due, record outcomes when jobs end.

Jobs wait in a sorted set by due time, so a sweep reads only what is due. A sweep first
*claims* its jobs by pushing their due time one lease ahead in the same atomic step that reads
them, so two sweeps never poll one job in the same round; a lock additionally keeps a second
beat from running a parallel sweep at all. A sweep that dies leaves its claimed jobs to be due
again when the lease ends.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from workers import keys, ledger
from workers.connections import Connection
from workers.crashpoints import crash_point
from workers.deps import Deps
from workers.dispatch import dispatch
from workers.errors import ConcurrencyLimited, CoursesyncError, ProviderError, RateLimited, TransientError
from workers.ledger import Batch, durations
from workers.locks import lock
from workers.logs import batch_event
from workers.metrics import count_limiter_wait, observe_poll_delays
from workers.metrics.timeline import counting_for
from workers.providers.base import JobStatus
from workers.ratelimit import Limits
from workers.retry import compute_backoff

__all__ = ["SweepStats", "next_poll_delay_s", "sweep"]

log = logging.getLogger(__name__)

#: Jobs one sweep claims at most; the next tick takes the rest.
MAX_CLAIM = 500
#: Polls run on this many threads: they wait on the network, not the CPU.
#: Of a tick, how far ahead the sweep claims jobs and waits for their moment.
SWEEP_AHEAD_SHARE = 0.8
POLL_THREADS = 8


@dataclass
class SweepStats:
    locked_out: bool = False
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def next_poll_delay_s(age_s: float, *, initial_s: float, max_s: float, fast_phase_s: float) -> float:
    """When to poll a job again, from its age.

    Most jobs end within a minute: poll every ``initial_s`` while the job is younger than
    ``fast_phase_s`` (a finished job is noticed within initial_s / 2 on average), then back off
    in proportion to its age (a quarter of it) up to ``max_s``. +-10% jitter keeps jobs
    submitted together from being polled in lockstep.
    """
    delay = initial_s if age_s < fast_phase_s else min(max_s, max(initial_s, age_s / 4))
    return delay * random.uniform(0.9, 1.1)


def claim_lease_s(provider_timeout_s: float) -> float:
    """How long a sweep owns its claimed jobs (and the sweep lock): time to poll them all, yet
    short, because a sweep killed midway leaves its jobs (and the lock) until this runs out."""
    return 2 * provider_timeout_s + 10.0


def sweep(deps: Deps, *, limit: int = MAX_CLAIM) -> SweepStats:
    """Poll up to ``limit`` due jobs once. Returns what happened (for logs and tests).

    One job's trouble never stops the sweep: every poll is isolated (``poll_one`` records its
    own failures), so a garbage answer for one job costs that job one poll error.
    """
    r, settings = deps.r, deps.settings
    stats = SweepStats()
    lease_s = claim_lease_s(settings.provider_timeout_s)
    with lock(r, keys.POLLER_LOCK, ttl_s=lease_s) as held:
        if not held:
            stats.locked_out = True
            return stats
        # Jobs due before the next tick are claimed now and polled at their moment: waiting for
        # the tick after would notice a finished job up to a tick late (for slot-bound providers
        # that is throughput lost). Not a whole tick: the sweep must end before the next one.
        ahead_s = settings.tick_interval_s * SWEEP_AHEAD_SHARE
        now_ms, due = ledger.claim_due_jobs(r, limit=limit, lease_s=lease_s, ahead_s=ahead_s)
        stats.claimed = len(due)
        observe_poll_delays(r, [max(0.0, now_ms - due_ms) / 1000 for _, due_ms in due])
        if due:
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=min(POLL_THREADS, len(due))) as pool:

                def poll_at(job: tuple[str, float]) -> str:
                    wait_s = (job[1] - now_ms) / 1000 - (time.monotonic() - started)
                    if wait_s > 0:
                        time.sleep(wait_s)
                    return _poll_isolated(deps, job[0], max(now_ms, int(job[1])), due_ms=int(job[1]))

                for outcome in pool.map(poll_at, due):
                    stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
    return stats


def _reschedule(deps: Deps, batch: Batch, delay_s: float) -> None:
    """Poll again after ``delay_s``, but never after the job's deadline: a provider's hint of an
    hour (or a backoff) must not keep a job that is past it from failing on time."""
    if batch.submitted_ms is not None:
        now_ms = Limits.on(deps.r).now_ms()
        left_s = (batch.submitted_ms + deps.settings.job_deadline_s * 1000 - now_ms) / 1000
        delay_s = max(0.0, min(delay_s, left_s + 0.001))
    ledger.reschedule_poll(deps.r, batch.id, delay_s)


def _poll_isolated(deps: Deps, batch_id: str, now_ms: int, *, due_ms: int | None = None) -> str:
    try:
        return poll_one(deps, batch_id, now_ms=now_ms, due_ms=due_ms)
    except Exception:
        log.exception("status poll of batch=%r failed before its failure could be recorded", batch_id)
        return "error"


def poll_one(deps: Deps, batch_id: str, *, now_ms: int | None = None, due_ms: int | None = None) -> str:
    """Poll one job; returns ``gone``, ``throttled``, ``pending``, ``done``, ``failed``,
    ``resent`` or ``error``. ``now_ms`` is Redis' clock (the job deadline is measured on it)."""
    r, settings = deps.r, deps.settings
    batch = ledger.load_batch(r, batch_id)
    if batch is None or batch.state != "submitted" or batch.job_ref is None:
        ledger.forget_job(r, batch_id)
        return "gone"
    now_ms = now_ms if now_ms is not None else Limits.on(r).now_ms()
    if now_ms - (batch.submitted_ms or now_ms) > settings.job_deadline_s * 1000:
        reason = f"the remote job {batch.job_ref} did not finish within {settings.job_deadline_s:.0f} s"
        _fail(deps, batch, code="coursesync.TASK_TIMED_OUT", message=reason)
        return "failed"
    try:
        connection = deps.get_connection(batch.connection)
        # Built before the poll is granted, as a submission's is (``submit._submit``): a
        # worker's first client takes a while, and a poll that late trips a sliding window.
        provider = deps.get_provider(batch.connection)
        wait_s = _poll_budget(deps, connection, batch)
        if wait_s > 0:
            count_limiter_wait(r, batch.connection, wait_s)
            # Due one tick early: a sweep then claims it just before its booking, not after.
            _reschedule(deps, batch, max(0.0, wait_s - settings.tick_interval_s))
            return "throttled"
        with counting_for(batch.run_id, settings.run_retention_s):
            status = provider.poll(batch.job_ref)
        crash_point("poll.after_answer")
    except (RateLimited, ConcurrencyLimited) as exc:
        # The provider pacing us is not the job failing: look again after its hint.
        _reschedule(deps, batch, exc.retry_after_s if exc.retry_after_s is not None else 1.0)
        return "throttled"
    except Exception as exc:
        return _poll_failed(deps, batch, exc)
    ledger.count_poll(r, batch, ok=True)
    return _apply_status(deps, batch, connection, status, due_ms=due_ms)


def _poll_budget(deps: Deps, connection: Connection, batch: Batch) -> float:
    """0 when the poll may go now, else seconds until it may (its request may be booked)."""
    limits, bucket = Limits.on(deps.r), connection.spec.poll_bucket
    wait_s = limits.take_request(connection, bucket, batch.id)
    if 0 < wait_s <= deps.settings.tick_interval_s:
        # Booked for a moment from now: wait here, on time, rather than until a later sweep.
        time.sleep(wait_s)
        wait_s = limits.take_request(connection, bucket, batch.id)
    return wait_s


def _apply_status(
    deps: Deps, batch: Batch, connection: Connection, status: JobStatus, *, due_ms: int | None = None
) -> str:
    r, settings = deps.r, deps.settings
    now_ms = Limits.on(r).now_ms()
    # Only a poll that went when it was due brackets the job: one that waited for the budget
    # would teach the wait (and then make every first poll later still).
    if due_ms is not None and now_ms - due_ms <= durations.ON_TIME_MS:
        durations.observe(r, batch, now_ms=now_ms, ended=status.state != "pending")
    if status.state == "pending":
        # The job still runs: keep its concurrency slot alive (a lease that would otherwise end).
        Limits.on(r).take_job_slot(connection, batch.id)
        age_s = max(0.0, (now_ms - (batch.submitted_ms or 0)) / 1000)
        learned = durations.next_poll_s(r, batch, age_s) if settings.poll_learn_durations else None
        delay = learned if learned is not None else next_poll_delay_s(
            age_s,
            initial_s=settings.poll_initial_delay_s,
            max_s=settings.poll_max_interval_s,
            fast_phase_s=settings.poll_fast_phase_s,
        )  # fmt: skip
        _reschedule(deps, batch, max(delay, status.retry_after_s or 0.0))
        return "pending"
    if status.state == "retry":
        return _resend(deps, batch, status)
    if status.state == "failed":
        reason = status.reason or "the remote job failed"
        _fail(deps, batch, code=status.code or "REMOTE_JOB_FAILED", message=reason)
        return "failed"
    ledger.record_results(r, deps.raw_r, batch, status.results, settings)
    _release_slot(deps, batch)  # the job ended
    return "done"


def _resend(deps: Deps, batch: Batch, status: JobStatus) -> str:
    """The job failed as a whole for a transient reason: send the batch again, as an attempt."""
    settings = deps.settings
    reason = f"the remote job {batch.job_ref} failed: {status.code or ''} {status.reason or ''}".strip()
    if ledger.is_cancelled(deps.r, batch.run_id):
        # Not sent again: the run was cancelled (were it reopened, mark_sending would refuse it).
        _fail(deps, batch, code=ledger.CANCELLED, message=f"{reason}; not sent again: the run was cancelled")
        return "failed"
    if batch.attempts + 1 >= settings.max_attempts:
        message = f"gave up after {batch.attempts + 1} attempts: {reason}"
        _fail(deps, batch, code=status.code or "REMOTE_JOB_FAILED", message=message)
        return "failed"
    backoff = compute_backoff(batch.attempts, base_s=settings.backoff_base_s, cap_s=settings.backoff_cap_s)
    delay = status.retry_after_s if status.retry_after_s is not None else backoff
    ledger.reopen(deps.r, batch, delay_s=delay, reason=reason)
    _release_slot(deps, batch)  # the job ended; the batch takes a slot again when it is sent
    batch_event(log, logging.WARNING, "batch will retry", batch, job=batch.job_ref, code=status.code,
                delay_s=round(delay, 1), reason=reason)  # fmt: skip
    return "resent"


def _poll_failed(deps: Deps, batch: Batch, exc: Exception) -> str:
    """Count a failed poll; after ``max_attempts`` in a row the batch fails, naming the error."""
    r, settings = deps.r, deps.settings
    errors = ledger.count_poll(r, batch, ok=False)
    if isinstance(exc, ProviderError):
        reason, code = exc.reason, exc.code or type(exc).__name__
    elif isinstance(exc, CoursesyncError):
        reason, code = str(exc), type(exc).__name__
    else:
        log.error("unexpected error polling batch=%r", batch.id, exc_info=exc)
        reason, code = f"unexpected {type(exc).__name__}: {exc}", "coursesync.UNEXPECTED"
    if errors >= settings.max_attempts:
        message = f"the status of remote job {batch.job_ref} could not be read {errors} times: {reason}"
        _fail(deps, batch, code=code, message=message)
        return "failed"
    hint = exc.retry_after_s if isinstance(exc, TransientError) else None
    # The same patience as a submission's: a provider outage must not fail jobs that may well
    # have finished, sooner than it fails the batches still waiting to be sent.
    delay = (
        hint
        if hint is not None
        else compute_backoff(errors, base_s=settings.poll_initial_delay_s, cap_s=settings.backoff_cap_s)
    )
    batch_event(
        log,
        logging.WARNING,
        "status poll failed",
        batch,
        status=getattr(exc, "status_code", None),
        job=batch.job_ref,
        poll_errors=errors,
        delay_s=round(delay, 1),
        reason=reason,
    )
    _reschedule(deps, batch, delay)
    return "error"


def _fail(deps: Deps, batch: Batch, *, code: str, message: str) -> None:
    ledger.fail_batch(deps.r, deps.raw_r, batch, code=code, message=message, settings=deps.settings)
    _release_slot(deps, batch)


def _release_slot(deps: Deps, batch: Batch) -> None:
    """Its remote job has ended (or is given up on): free the provider concurrency slot."""
    # A connection gone from the config: its slot lease simply runs out.
    with contextlib.suppress(CoursesyncError):
        connection = deps.get_connection(batch.connection)
        Limits.on(deps.r).release_job_slot(connection, batch.id)
        if connection.spec.job_slots is not None:
            # Slot-bound: the next batch goes now, not at the next pump tick (throughput is
            # slots over the time from submission to noticing the end).
            try:
                dispatch(deps.r, batch.connection, connection, deps.settings, deps.send,
                         get_connection=deps.get_connection)  # fmt: skip
            except Exception:
                log.exception("dispatch after the job of batch=%r ended failed", batch.id)
