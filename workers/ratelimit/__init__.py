"""Fleet-wide rate limits, pauses and concurrency slots per connection.

Celery's own ``rate_limit`` is per worker process, so N workers send N times the limit
(celery #5732). Here every decision is one atomic step in Redis shared by the whole fleet:

- **budgets**: a GCRA per connection and request bucket (``requests``, or ``write``/``read``
  for 360Learning) paces requests at the configured rate, polls included;
- **pauses**: when the provider says stop (a 429, ``ratelimit-remaining: 0``), one key pauses
  that budget for every worker until the provider's reset time;
- **slots**: remote jobs that count against a provider's concurrency limit hold a slot (a
  lease that expires, so a killed worker never leaks one) until the job ends;
- **bookings** (``bookings``): a request that must wait a moment spends the budget in advance;
- **learned caps** (``feedback``): a concurrency limit the provider announced below the
  configured one lowers how many batches are handed out at once (``dispatch_cap``).

This package is the only code that reads or writes any of that state. Each answer is "go" or
"wait N seconds"; callers defer the batch instead of sleeping.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from workers import keys
from workers.connections import Connection
from workers.ratelimit.backend import LimiterBackend, MemoryBackend
from workers.ratelimit.bookings import take_request
from workers.ratelimit.redis_backend import RedisBackend

__all__ = ["Grant", "LimiterBackend", "Limits", "MemoryBackend", "RedisBackend"]

#: Pace a little under the configured rate: a request granted exactly on its tick can reach
#: the provider a few ms early and trip a limiter that is exactly at the rate.
RATE_SAFETY = 0.98
#: A job slot is held this long without news before it is presumed dead; the poller renews it.
SLOT_LEASE_S = 600.0
#: A batch waiting for a job slot looks again this soon: slots free up when a poll sees a job
#: end (seconds), long before the earliest lease would expire.
SLOT_RETRY_S = 2.0


class Grant(NamedTuple):
    """The limiter's answer: wait this long (0 = go now); ``booked`` if the request is already
    paid for at the end of the wait; ``now_ms`` is the limiter's clock (Redis') at the answer."""

    wait_s: float
    booked: bool = False
    now_ms: int = 0


class Limits:
    """The limiter policies, over a backend (``RedisBackend(redis)`` in production)."""

    def __init__(self, backend: LimiterBackend) -> None:
        self.backend = backend

    @classmethod
    def on(cls, r: Any) -> Limits:
        return cls(RedisBackend(r))

    def spend(
        self, connection: Connection, bucket: str, *, book_within_s: float = 0.0, cost: int = 1
    ) -> Grant:
        """Take ``cost`` requests from the budget (one per API request the caller will make).

        ``Grant.wait_s`` is 0 to go now. Otherwise, when the wait is at most ``book_within_s``
        the request is booked (``Grant.booked``): go after the wait without asking again;
        else ask again after it.
        """
        rate_per_s = connection.budget_per_s(bucket) * RATE_SAFETY
        answer_ms, now_ms = self.backend.gcra(
            keys.rate(connection.name, bucket),
            keys.pause(connection.name, bucket),
            emission_ms=1000.0 / rate_per_s,
            # Half a second's worth may go at once (a sweep of due jobs, a fresh run). Not more:
            # requests granted together reach the provider spread by their own latency, and
            # the unused half of the provider's bucket absorbs that jitter.
            burst=max(1, int(rate_per_s / 2)),
            reserve_ms=int(book_within_s * 1000),
            cost=cost,
        )
        return Grant(abs(answer_ms) / 1000.0, booked=answer_ms < 0, now_ms=now_ms)

    def now_ms(self) -> int:
        """The limiter's clock: every host measures bookings on it, whatever its own clock says."""
        return self.backend.now_ms()

    def pause(self, connection: str, bucket: str, seconds: float, reason: str) -> None:
        """Stop every worker from spending ``bucket`` for ``seconds``."""
        self.backend.pause(keys.pause(connection, bucket), ms=int(seconds * 1000), reason=reason)

    def paused_s(self, connection: str, bucket: str) -> float:
        return self.backend.paused_ms(keys.pause(connection, bucket)) / 1000.0

    def take_job_slot(self, connection: Connection, holder: str) -> float:
        """Hold (or renew) a job slot for ``holder``: 0 on success, else seconds to wait."""
        limit = connection.spec.job_slots
        if limit is None:
            return 0.0
        key = keys.slots(connection.name, "jobs")
        wait_s = self.backend.slot(key, holder, limit=limit, lease_ms=int(SLOT_LEASE_S * 1000)) / 1000.0
        return min(wait_s, SLOT_RETRY_S)

    def release_job_slot(self, connection: Connection, holder: str) -> None:
        if connection.spec.job_slots is not None:
            self.backend.release(keys.slots(connection.name, "jobs"), holder)

    def take_request(self, connection: Connection, bucket: str, holder: str, *, cost: int = 1) -> float:
        """0 when ``holder`` may send its ``cost`` requests now, else seconds to wait (see
        ``bookings``)."""
        return take_request(self, connection, bucket, holder, cost=cost)

    def dispatch_cap(self, connection: Connection) -> int:
        """How many of the connection's batches may be handed out at once: none while the
        provider asked us to pause (they would only bounce), else ``max_in_flight`` or the lower
        limit the provider announced."""
        if self.paused_s(connection.name, connection.spec.submit_bucket) > 0:
            return 0
        learned = self.backend.value(keys.learned_cap(connection.name))
        cap = connection.max_in_flight
        return min(cap, int(learned)) if learned and int(learned) > 0 else cap

    def learn_cap(self, connection: Connection, cap: int, *, ttl_s: float) -> None:
        """The provider announced a concurrency limit below the configured one."""
        self.backend.put(keys.learned_cap(connection.name), str(cap), ttl_ms=int(ttl_s * 1000))
