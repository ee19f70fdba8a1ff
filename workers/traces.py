"""Traces processes leave in Redis for `coursesync health` and the metrics endpoint.

Connected to Celery signals by ``workers.celery_app``: every worker stamps its name when it
finishes a task, and how each housekeeping task (``workers.ports.HOUSEKEEPING``, which Flower
does not list) ended; beat stamps each tick it publishes. Neither decides health on its own
(an idle fleet finishes no task); they tell the reader of a failed check what last happened.
"""

from __future__ import annotations

from typing import Any

from workers.health import record_beat_tick, record_heartbeat, record_housekeeping
from workers.ports import HOUSEKEEPING
from workers.redis_client import get_redis

__all__ = ["on_before_publish", "on_task_postrun"]

#: Beat publishes this task every tick, and nobody else does.
_TICK_TASK = "coursesync.pump"


def on_task_postrun(sender: Any = None, state: str | None = None, **_: Any) -> None:
    hostname = getattr(getattr(sender, "request", None), "hostname", None)
    if hostname:
        record_heartbeat(get_redis(), str(hostname))
    name = getattr(sender, "name", None)
    if name in HOUSEKEEPING:
        # Flower never hears of these runs, so whether they go on and succeed is kept here.
        record_housekeeping(get_redis(), str(name), ok=state == "SUCCESS")


def on_before_publish(sender: Any = None, **_: Any) -> None:
    if sender == _TICK_TASK:
        record_beat_tick(get_redis())
