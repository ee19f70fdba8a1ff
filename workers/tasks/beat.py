"""Tasks beat runs: the pump and the status sweep every tick, the doctor and the cleanup now and then."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from schemas.messages import Tick
from workers import ports
from workers.catalog_files import sweep_fanout_memory, sweep_fanout_snapshots
from workers.dispatch import pump as run_pump
from workers.doctor import examine
from workers.health import forget_silent_workers
from workers.ledger import trim_runs_index
from workers.ledger.outbox import drain_outbox
from workers.poller import sweep
from workers.providers.registry import get_connection, get_connections
from workers.scheduler import check_schedules
from workers.tasks.base import load, real_deps, task
from workers.webhooks import webhook_target

# A tick that starts late is useless: the next one is already on its way.
_TICK = {"expires": 10, "soft_time_limit": 50, "time_limit": 60}


@task(name=ports.PUMP, **_TICK)
def pump(**kwargs: Any) -> dict[str, Any]:
    """Hand out batches, and the announcements of runs that ended (the webhook outbox)."""
    load(Tick, kwargs)
    deps = real_deps()
    stats = asdict(run_pump(deps.r, deps.settings, list(get_connections()), get_connection, deps.send))
    stats["announced"] = drain_outbox(
        deps.r, deps.send, lambda run_id: webhook_target(deps.r, run_id) is not None
    )
    return stats


@task(name=ports.POLL_JOBS, **_TICK)
def poll_jobs(**kwargs: Any) -> dict[str, Any]:
    load(Tick, kwargs)
    return asdict(sweep(real_deps()))


@task(name=ports.SCHEDULES, **_TICK)
def schedules(**kwargs: Any) -> dict[str, str]:
    """Start the scheduled resyncs that are due (skipping those whose last run still goes)."""
    load(Tick, kwargs)
    deps = real_deps()

    def start(connection: str, run_id: str) -> None:
        deps.send(ports.SCHEDULED_SYNC, {"connection": connection, "run_id": run_id}, {})

    return check_schedules(deps.r, list(get_connections().values()), start)


@task(name=ports.DOCTOR, expires=60, soft_time_limit=100, time_limit=110)
def doctor(**kwargs: Any) -> dict[str, Any]:
    """Every open run can end: silent producers' runs ended, stranded batches put back."""
    load(Tick, kwargs)
    deps = real_deps()
    report = examine(deps.r, deps.settings)
    return {**asdict(report), "healthy": report.healthy}


@task(name=ports.CLEANUP, expires=3600)
def cleanup(**kwargs: Any) -> dict[str, Any]:
    """Hourly: run records expire by TTL; their entries in the runs index go here, and so do
    the heartbeats of workers gone for a day (scaled down, renamed) and the snapshots of
    fan-outs that ended without their last part removing them (a reader killed mid-read), and
    the fan-out memory of catalogs not read for as long as runs are kept."""
    load(Tick, kwargs)
    deps = real_deps()
    return {
        "runs_forgotten": trim_runs_index(deps.r, deps.settings.run_retention_s),
        "workers_forgotten": forget_silent_workers(deps.r),
        "fanout_snapshots_removed": sweep_fanout_snapshots(deps.r, deps.settings.catalog_dir),
        "fanout_memory_removed": sweep_fanout_memory(
            deps.settings.catalog_dir, kept_s=deps.settings.run_retention_s
        ),
    }
