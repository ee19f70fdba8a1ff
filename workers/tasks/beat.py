"""Tasks beat runs every tick: the pump and the status sweep."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from workers.deps import real_deps
from workers.health import forget_silent_workers
from workers.poller import sweep
from workers.providers.registry import get_connections
from workers.pump import pump as run_pump
from workers.resync import check_schedules
from workers.store.runs import trim_runs_index
from workers.tasks.base import task

# A tick that starts late is useless: the next one is already on its way.
_TICK = {"expires": 10, "soft_time_limit": 50, "time_limit": 60}


@task(name="coursesync.pump", **_TICK)
def pump() -> dict[str, Any]:
    return asdict(run_pump(real_deps(), list(get_connections())))


@task(name="coursesync.poll_jobs", **_TICK)
def poll_jobs() -> dict[str, Any]:
    return asdict(sweep(real_deps()))


@task(name="coursesync.schedules", **_TICK)
def schedules() -> dict[str, str]:
    """Start the scheduled resyncs that are due (skipping those whose last run still goes)."""
    from workers.celery_app import app

    def send(connection: str, run_id: str) -> None:
        app.send_task("coursesync.scheduled_sync", kwargs={"connection": connection, "run_id": run_id})

    return check_schedules(real_deps().r, list(get_connections().values()), send)


@task(name="coursesync.cleanup", expires=3600)
def cleanup() -> dict[str, Any]:
    """Hourly: run records expire by TTL; their entries in the runs index go here, and so do
    the heartbeats of workers gone for a day (scaled down, renamed)."""
    deps = real_deps()
    return {
        "runs_forgotten": trim_runs_index(deps.r, deps.settings.run_retention_s),
        "workers_forgotten": forget_silent_workers(deps.r),
    }
