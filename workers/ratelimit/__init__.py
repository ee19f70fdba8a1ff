"""Fleet-wide rate limits and concurrency caps shared through Redis."""

from __future__ import annotations

import redis

from workers import keys
from workers.connections import Connection
from workers.ratelimit.gcra import reserve

__all__ = ["reserve", "spend_budget"]


def spend_budget(r: redis.Redis, connection: Connection, bucket: str) -> float:
    """Take one request from ``connection``'s budget ``bucket``: 0 to go, else seconds to wait."""
    rate_per_s = connection.budget_per_s(bucket)
    return reserve(
        r,
        keys.rate(connection.name, bucket),
        keys.pause(connection.name),
        rate_per_s=rate_per_s,
        # One second's worth of requests may go at once: a sweep polling several due jobs, or
        # a fresh run, should not be spread thinner than the provider's window requires.
        burst=max(1, int(rate_per_s)),
    )
