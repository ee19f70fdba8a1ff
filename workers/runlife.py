"""What happens when a run reaches its final state."""

from __future__ import annotations

import logging

import redis

from workers import keys
from workers.config import Settings

__all__ = ["run_finished"]

log = logging.getLogger(__name__)


def run_finished(r: redis.Redis, run_id: str, state: str, settings: Settings) -> None:
    """Called exactly once per run, by whichever process ended it."""
    pipe = r.pipeline(transaction=False)
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
    log.info("run finished run=%r state=%s", run_id, state)
