"""``coursesync.ping``: the task `coursesync health` sends to prove workers still consume."""

from __future__ import annotations

from typing import Any

from schemas.messages import Ping
from workers.health import answer_ping
from workers.ports import PING
from workers.redis_client import get_redis
from workers.tasks.base import load, task


# Acknowledged on receipt: a ping lost with a dying worker is the answer the check wants.
@task(name=PING, bind=True, acks_late=False, soft_time_limit=10, time_limit=20)
def ping(self: Any, **kwargs: Any) -> str:
    """Kwargs: token. Records which worker ran it; returns that worker's name."""
    msg: Ping = load(Ping, kwargs)
    hostname = str(self.request.hostname)
    answer_ping(get_redis(), msg.token, hostname)
    return hostname
