"""What happens when a run reaches its final state."""

from __future__ import annotations

import logging

import redis

from workers import keys
from workers.config import Settings
from workers.errors import ConfigError
from workers.logs import log_event
from workers.metrics import count_run_finished

__all__ = ["run_finished"]

log = logging.getLogger(__name__)


def run_finished(r: redis.Redis, run_id: str, state: str, settings: Settings) -> None:
    """Called exactly once per run, by whichever process ended it."""
    found = r.hget(keys.run(run_id), "connection")
    connection = str(found) if found is not None else None
    pipe = r.pipeline(transaction=False)
    if connection is not None:
        count_run_finished(pipe, connection, state)
    for key in (
        keys.run(run_id),
        keys.run_errors(run_id),
        keys.run_item_errors(run_id),
        keys.run_retry_items(run_id),
        keys.run_batches(run_id),
    ):
        # Retention counts from the end of the run, not from its start.
        pipe.expire(key, settings.run_retention_s)
    pipe.execute()
    log_event(log, logging.INFO, "run finished", connection=connection, run=run_id, state=state)
    if connection is not None and r.get(keys.active_run(connection)) == run_id:
        r.delete(keys.active_run(connection))  # the next scheduled resync may start
    from workers.celery_app import app
    from workers.signals import run_finished as signal
    from workers.store.runs import run_document
    from workers.webhooks import webhook_target

    signal.send(sender="coursesync", run_id=run_id, state=state, document=run_document(r, run_id))
    try:
        wanted = webhook_target(r, run_id) is not None
    except ConfigError as exc:
        log.error("webhook of run=%r not configured right: %s", run_id, exc)
        return
    if wanted:
        # Delivery (and its retries) happen in a task of their own, off this path.
        app.send_task("coursesync.notify_run", kwargs={"run_id": run_id})
