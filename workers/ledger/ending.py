"""What the process that ended a run does next: log it and tell in-process listeners.

Everything a finished run *needs* (its final state, retention, the fleet-wide counter, the
webhook outbox entry, freeing the scheduled-run claim) happens in the atomic step that ends it
(``workers/lua/_finalize.lua``), so a crash right after it loses none of that. What
is left here is best effort by nature: a log line and the ``run_finished`` signal.
"""

from __future__ import annotations

import logging

import redis

from workers import keys
from workers.config import Settings
from workers.ledger.documents import run_document
from workers.logs import log_event
from workers.signals import run_finished as signal

__all__ = ["run_finished"]

log = logging.getLogger(__name__)


def run_finished(r: redis.Redis, run_id: str, state: str, settings: Settings) -> None:
    """Called once per run, by whichever process ended it (``settings`` kept for callers)."""
    del settings
    found = r.hget(keys.run(run_id), "connection")
    connection = str(found) if found is not None else None
    log_event(log, logging.INFO, "run finished", connection=connection, run=run_id, state=state)
    try:
        signal.send(sender="coursesync", run_id=run_id, state=state, document=run_document(r, run_id))
    except Exception:
        log.exception("a run_finished listener failed run=%r", run_id)
