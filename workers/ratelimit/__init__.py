"""Fleet-wide rate limits, pauses and concurrency slots per connection.

Celery's own ``rate_limit`` is per worker process, so N workers send N times the limit
(celery #5732). Here every decision is one atomic step in Redis shared by the whole fleet:

- **budgets** (``budgets``): what the provider counts (an API key, a company), shared by every
  connection on it; per request bucket (``requests``, or ``write``/``read`` for 360Learning)
  one GCRA per window (``20/s`` and ``600/min``...), taken together, polls included; and a
  connection's own cap inside it when it sets one;
- **pauses**: when the provider says stop (a 429, ``ratelimit-remaining: 0``), one key pauses
  that budget for every worker of every connection on it until the provider's reset time;
- **slots**: remote jobs that count against a provider's concurrency limit (per company for
  360Learning) hold a slot (a lease that expires, so a killed worker never leaks one) until
  the job ends;
- **bookings** (``bookings``): a request that must wait a moment spends the budget in advance;
- **learned caps** (``feedback``): a concurrency limit the provider announced below the
  configured one lowers how many batches are handed out at once (``dispatch_cap``).

This package is the only code that reads or writes any of that state. Each answer is "go" or
"wait N seconds"; callers defer the batch instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from workers import keys
from workers.connections import Connection
from workers.quota import Window, bursts, late_slack_ms
from workers.ratelimit.backend import GcraWindow, LimiterBackend, MemoryBackend
from workers.ratelimit.bookings import take_request
from workers.ratelimit.budgets import budget_id, budgets
from workers.ratelimit.redis_backend import RedisBackend

__all__ = ["Grant", "LimiterBackend", "Limits", "MemoryBackend", "RedisBackend"]
#: Granted requests are counted per this many seconds (``keys.budget_used``).
USE_SLOT_S = 10
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
        budget = budget_id(connection)
        named = self._windows(connection, bucket)
        sizes = bursts(tuple(window for _, window, _ in named))
        windows = [
            GcraWindow(key, window.emission_ms, burst, shared)
            for (key, window, shared), burst in zip(named, sizes, strict=True)
        ]
        answer_ms, now_ms = self.backend.gcra(
            keys.pause(budget, bucket),
            windows,
            reserve_ms=int(book_within_s * 1000),
            cost=cost,
            used_key=keys.budget_used(budget, bucket, int(time.time()) // USE_SLOT_S),
        )
        return Grant(abs(answer_ms) / 1000.0, booked=answer_ms < 0, now_ms=now_ms)

    @staticmethod
    def _windows(connection: Connection, bucket: str) -> list[tuple[str, Window, bool]]:
        # Every window of every budget the request spends is taken together, so a window of a
        # second or less anywhere paces them all (``workers.quota.bursts``).
        return [
            (keys.rate(budget.id, bucket, i), window, budget.shared)
            for budget in budgets(connection, bucket)
            for i, window in enumerate(budget.windows)
        ]

    def late_slack_ms(self, connection: Connection, bucket: str) -> float:
        """How late a booked request of ``bucket`` may still go (``workers.quota.late_slack_ms``)."""
        return late_slack_ms(tuple(window for _, window, _ in self._windows(connection, bucket)))

    def now_ms(self) -> int:
        """The limiter's clock: every host measures bookings on it, whatever its own clock says."""
        return self.backend.now_ms()

    def pause_key(self, connection: Connection, bucket: str) -> str:
        return keys.pause(budget_id(connection), bucket)

    def pause(self, connection: Connection, bucket: str, seconds: float, reason: str) -> None:
        """Stop every worker of every connection on ``connection``'s budget from spending
        ``bucket`` for ``seconds``: the provider counts them together."""
        self.backend.pause(self.pause_key(connection, bucket), ms=int(seconds * 1000), reason=reason)

    def paused_s(self, connection: Connection, bucket: str) -> float:
        return self.backend.paused_ms(self.pause_key(connection, bucket)) / 1000.0

    def take_job_slot(self, connection: Connection, holder: str) -> float:
        """Hold (or renew) a job slot for ``holder``: 0 on success, else seconds to wait."""
        limit = connection.spec.job_slots
        if limit is None:
            return 0.0
        key = keys.slots(budget_id(connection), "jobs")
        wait_s = self.backend.slot(key, holder, limit=limit, lease_ms=int(SLOT_LEASE_S * 1000)) / 1000.0
        return min(wait_s, SLOT_RETRY_S)

    def jobs_running(self, connection: Connection) -> int:
        """Job slots held on ``connection``'s budget (expired leases not counted)."""
        key = keys.slots(budget_id(connection), "jobs")
        return int(self.backend.count_live(key)) if connection.spec.job_slots is not None else 0

    def release_job_slot(self, connection: Connection, holder: str) -> None:
        if connection.spec.job_slots is not None:
            self.backend.release(keys.slots(budget_id(connection), "jobs"), holder)

    def take_request(self, connection: Connection, bucket: str, holder: str, *, cost: int = 1) -> float:
        """0 when ``holder`` may send its ``cost`` requests now, else seconds to wait (see
        ``bookings``)."""
        return take_request(self, connection, bucket, holder, cost=cost)

    def dispatch_cap(self, connection: Connection) -> int:
        """How many of the connection's batches may be handed out at once: none while the
        provider asked us to pause (they would only bounce), else ``max_in_flight`` or the lower
        limit the provider announced."""
        return self.dispatch_caps([connection])[0]

    def dispatch_caps(self, connections: list[Connection]) -> list[int]:
        """``dispatch_cap`` of each connection: one read of each budget's pause and one of
        every learned cap, however many connections share the budget."""
        pause_keys = {self.pause_key(c, c.spec.submit_bucket) for c in connections}
        paused = {key for key in pause_keys if self.backend.paused_ms(key) > 0}
        learned = self.backend.values([keys.learned_cap(c.name) for c in connections])
        caps = []
        for connection, found in zip(connections, learned, strict=True):
            cap = connection.max_in_flight
            if self.pause_key(connection, connection.spec.submit_bucket) in paused:
                cap = 0
            elif found and int(found) > 0:
                cap = min(cap, int(found))
            caps.append(cap)
        return caps

    def learn_cap(self, connection: Connection, cap: int, *, ttl_s: float) -> None:
        """The provider announced a concurrency limit below the configured one."""
        self.backend.put(keys.learned_cap(connection.name), str(cap), ttl_ms=int(ttl_s * 1000))
