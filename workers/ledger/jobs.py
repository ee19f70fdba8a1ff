"""When each remote job is polled next: a sorted set by due time, on Redis' clock.

A sweep reads only what is due, and *claims* it by pushing its due time one lease ahead in the
same step, so two sweeps never poll one job in the same round; a sweep that dies leaves its
jobs to come due again when the lease ends.
"""

from __future__ import annotations

from typing import Any

import redis

from workers import keys, lua
from workers.redis_client import strs

__all__ = ["claim_due_jobs", "forget_job", "reschedule_poll"]


def claim_due_jobs(
    r: redis.Redis, *, limit: int, lease_s: float, ahead_s: float = 0.0
) -> tuple[int, list[tuple[str, float]]]:
    """(Redis now in ms, [(batch id, when its poll is due in ms)...]) of up to ``limit`` jobs due
    now or within ``ahead_s``."""
    claimed: Any = lua.run(
        r, "claim_due_jobs", [keys.JOBS_DUE], [limit, int(lease_s * 1000), int(ahead_s * 1000)]
    )
    now_ms, due = int(claimed[0]), claimed[1]
    return now_ms, list(zip(strs(due[0::2]), (float(ms) for ms in due[1::2]), strict=True))


def reschedule_poll(r: redis.Redis, batch_id: str, delay_s: float) -> None:
    """Poll the job of ``batch_id`` again ``delay_s`` from now, if it is still tracked."""
    lua.run(r, "reschedule_poll", [keys.JOBS_DUE], [batch_id, int(delay_s * 1000)])


def forget_job(r: redis.Redis, batch_id: str) -> None:
    """No job to poll for ``batch_id`` any more (it settled, or expired with its run)."""
    r.zrem(keys.JOBS_DUE, batch_id)
