"""``coursesync.sync_catalog``: start a run from a catalog URL, for upstreams in any language."""

from __future__ import annotations

from typing import Any

from producers.sync import SyncOptions, start_run
from schemas.messages import SyncCatalog, load_message
from workers.providers.registry import get_connection
from workers.tasks.base import task


# Reading a large catalog can take minutes. This task acknowledges on receipt: a redelivery
# after a crash would start a second run of the same catalog.
@task(
    name="coursesync.sync_catalog",
    acks_late=False,
    ignore_result=False,
    soft_time_limit=3600,
    time_limit=3700,
)
def sync_catalog(connection: str, source_url: str, **kwargs: Any) -> str:
    """Args: connection, source_url (a catalog the workers can read). Returns the run id."""
    msg: SyncCatalog = load_message(
        SyncCatalog, {"connection": connection, "source_url": source_url, **kwargs}
    )
    return start_run(
        msg.connection,
        msg.source_url,
        SyncOptions(full=msg.full, prune=msg.prune, trigger="celery"),
    )


@task(name="coursesync.scheduled_sync", acks_late=False, soft_time_limit=3600, time_limit=3700)
def scheduled_sync(connection: str, run_id: str) -> str:
    """A scheduled resync of ``connection`` as its schedule says (source, prune, full)."""
    conn = get_connection(connection)
    if conn.schedule is None:
        return "no schedule"
    options = SyncOptions(full=conn.schedule.full, prune=conn.schedule.prune, trigger="schedule")
    return start_run(connection, conn.schedule.source, options, run_id=run_id)
