"""Tasks beat runs: the pump and the status sweep every tick, the doctor and the cleanup now and then."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from workers import dispatch
from workers.deps import real_deps
from workers.doctor import examine
from workers.health import forget_silent_workers
from workers.outbox import drain_outbox
from workers.poller import sweep
from workers.providers.registry import get_connections
from workers.pump import pump as run_pump
from workers.resync import check_schedules
from workers.store.runs import trim_runs_index
from workers.tasks.base import task
from workers.webhooks import webhook_target

# A tick that starts late is useless: the next one is already on its way.
_TICK = {"expires": 10, "soft_time_limit": 50, "time_limit": 60}


@task(name="coursesync.pump", **_TICK)
def pump() -> dict[str, Any]:
    """Hand out batches, and the announcements of runs that ended (the webhook outbox)."""
    deps = real_deps()
    stats = asdict(run_pump(deps, list(get_connections())))
    stats["announced"] = drain_outbox(
        deps.r,
        dispatch.send_task,
        lambda run_id: webhook_target(deps.r, run_id) is not None,
    )
    return stats


@task(name="coursesync.poll_jobs", **_TICK)
def poll_jobs() -> dict[str, Any]:
    return asdict(sweep(real_deps()))


@task(name="coursesync.schedules", **_TICK)
def schedules() -> dict[str, str]:
    """Start the scheduled resyncs that are due (skipping those whose last run still goes)."""

    def send(connection: str, run_id: str) -> None:
        dispatch.send_task("coursesync.scheduled_sync", {"connection": connection, "run_id": run_id})

    return check_schedules(real_deps().r, list(get_connections().values()), send)


@task(name="coursesync.doctor", expires=60, soft_time_limit=100, time_limit=110)
def doctor() -> dict[str, Any]:
    """Every open run can end: silent producers' runs ended, stranded batches put back."""
    deps = real_deps()
    report = examine(deps.r, deps.settings)
    return {**asdict(report), "healthy": report.healthy}


@task(name="coursesync.cleanup", expires=3600)
def cleanup() -> dict[str, Any]:
    """Hourly: run records expire by TTL; their entries in the runs index go here, and so do
    the heartbeats of workers gone for a day (scaled down, renamed)."""
    deps = real_deps()
    return {
        "runs_forgotten": trim_runs_index(deps.r, deps.settings.run_retention_s),
        "workers_forgotten": forget_silent_workers(deps.r),
    }
