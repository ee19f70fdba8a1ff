"""The producer's Celery tasks: start a run from a catalog URL, or a connection's scheduled resync.

They live with the producer, not in ``workers.tasks``: the worker package never imports the
producer (the Celery app lists this module by name).
"""

from __future__ import annotations

from typing import Any

from producers.changes import flush_changes, sweep_changes
from producers.fanout import send_part, start_reserved_fanout
from producers.run_starts import start_reserved_run
from producers.sync import SyncOptions, start_run
from schemas.messages import FanoutPart, FlushChanges, ScheduledSync, StartFanout, StartRun, SyncCatalog
from workers.connections import resolve_value
from workers.ports import FANOUT_PART, FLUSH_CHANGES, SCHEDULED_SYNC, START_FANOUT, START_RUN, SYNC_CATALOG
from workers.providers.registry import get_connection
from workers.tasks.base import load, real_deps, task


# Reading a large catalog can take minutes. These tasks acknowledge on receipt: a redelivery
# after a crash would start a second run of the same catalog (a run whose producer died is
# ended by the doctor, and the next sync sends what it did not).
@task(name=SYNC_CATALOG, acks_late=False, ignore_result=False, soft_time_limit=3600, time_limit=3700)
def sync_catalog(connection: str, source_url: str, **kwargs: Any) -> str:
    """Args: connection, source_url (a catalog the workers can read). Returns the run id."""
    msg: SyncCatalog = load(SyncCatalog, {"connection": connection, "source_url": source_url, **kwargs})
    options = SyncOptions(full=msg.full, prune=msg.prune, trigger="celery")
    return start_run(msg.connection, msg.source_url, options, send=real_deps().send)


@task(name=START_RUN, acks_late=False, soft_time_limit=3600, time_limit=3700)
def start_run_task(**kwargs: Any) -> str:
    """Kwargs: run_id. A run the HTTP API recorded; its source and options are in the record."""
    msg: StartRun = load(StartRun, kwargs)
    return start_reserved_run(msg.run_id, send=real_deps().send)


@task(name=START_FANOUT, acks_late=False, soft_time_limit=3600, time_limit=3700)
def start_fanout_task(**kwargs: Any) -> str:
    """Kwargs: fanout_id. Read a fan-out's catalog once (the API recorded it) and hand out its parts."""
    msg: StartFanout = load(StartFanout, kwargs)
    return start_reserved_fanout(msg.fanout_id, send=real_deps().send)


@task(name=FANOUT_PART, acks_late=False, soft_time_limit=3600, time_limit=3700)
def fanout_part(**kwargs: Any) -> str:
    """Kwargs: fanout_id, run_id. One connection's diff and send of a fan-out's catalog."""
    msg: FanoutPart = load(FanoutPart, kwargs)
    return send_part(msg.fanout_id, msg.run_id, send=real_deps().send)


@task(name=SCHEDULED_SYNC, acks_late=False, soft_time_limit=3600, time_limit=3700)
def scheduled_sync(**kwargs: Any) -> str:
    """Kwargs: connection, run_id. A scheduled resync as its schedule says (source, prune, full)."""
    msg: ScheduledSync = load(ScheduledSync, kwargs)
    conn = get_connection(msg.connection)
    if conn.schedule is None:
        return "no schedule"
    options = SyncOptions(full=conn.schedule.full, prune=conn.schedule.prune, trigger="schedule")
    # A signed source URL stays out of the TOML file: "env:NAME" or "file:/run/secrets/NAME".
    source = str(resolve_value(conn.schedule.source, f"connections.{msg.connection}.schedule.source"))
    return start_run(msg.connection, source, options, run_id=msg.run_id, send=real_deps().send)


@task(name=FLUSH_CHANGES, soft_time_limit=240, time_limit=300)
def flush_changes_task(**kwargs: Any) -> dict[str, Any]:
    """Kwargs: connection: one run of its waiting changes. None (beat): flush what waited too long."""
    msg: FlushChanges = load(FlushChanges, kwargs)
    deps = real_deps()
    if msg.connection is None:
        return {"flushed": sweep_changes(deps.r, deps.settings, deps.send)}
    return {"run_id": flush_changes(deps.r, msg.connection, deps.settings, deps.send)}
