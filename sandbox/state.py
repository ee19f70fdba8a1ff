"""The sandbox's memory: request statistics, the request log and each provider's remote objects.

One lock guards the statistics and is held only for a few dictionary operations per request.
Providers keep their objects in a store of their own (``State.store``) with their own lock, and
limits have theirs (``sandbox.limits``), so no request ever waits on another one's work.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sandbox.limits import ConcurrencyCounter, FaultInjector, Quota, TokenBucket
from sandbox.settings import SandboxSettings

__all__ = ["REQUEST_LOG_SIZE", "LogEntry", "PathEntry", "State"]

#: Requests remembered for GET /_sandbox/requests: a benchmark at 2,000 requests/s keeps
#: over two minutes of history; each entry costs about 150 bytes.
REQUEST_LOG_SIZE = 250_000

#: (epoch seconds, provider, method, route name, HTTP status)
LogEntry = tuple[float, str, str, str, int]
#: A LogEntry plus the request's path (which names the remote object: a task id, an operation id).
PathEntry = tuple[float, str, str, str, int, str]

T = TypeVar("T")


class State:
    """Everything mutable behind a running sandbox; ``reset()`` clears it but keeps the settings."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()  #: guards statistics and ``settings`` updates
        self.faults = FaultInjector(settings.seed)
        #: Live requests, not history: kept across resets so in-flight requests still leave.
        self.in_flight = ConcurrencyCounter()
        self.started_epoch_s = time.time()
        #: Counters each provider reports even before they first move (see ``declare``).
        self._declared: dict[str, tuple[str, ...]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every remote object, statistic, bucket and logged request; reseed the faults."""
        with self.lock:
            self.reset_epoch_s = time.time()
            self._by_route: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._log: deque[PathEntry] = deque(maxlen=REQUEST_LOG_SIZE)
            self._logged = 0
            self._counters: dict[str, Counter[str]] = {}
            self._ids: dict[str, set[str]] = {}
            self._stores: dict[str, Any] = {}
            self._buckets: dict[tuple[str, str], TokenBucket] = {}
            self._rngs: dict[str, random.Random] = {}
            self._mutations: Counter[str] = Counter()
        self.faults.reseed(self.settings.seed)
        self.in_flight.peaks(reset=True)

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial settings update (ValueError if invalid); returns the new settings."""
        with self.lock:
            self.settings.update(changes)
            doc = self.settings.as_dict()
        if "seed" in changes:
            self.faults.reseed(self.settings.seed)
            with self.lock:
                self._rngs.clear()
        return doc

    def rng(self, purpose: str) -> random.Random:
        """A generator of its own for ``purpose`` (e.g. "mutate"), seeded from ``seed``, so one
        kind of draw never shifts the sequence another kind sees; new after a reset or reseed."""
        with self.lock:
            found = self._rngs.get(purpose)
            if found is None:
                seed = None if self.settings.seed is None else f"{self.settings.seed}:{purpose}"
                found = self._rngs[purpose] = random.Random(seed)
            return found

    def mutated(self, kind: str) -> None:
        """Count one answer changed by the mutation fault mode (``sandbox.mutate``)."""
        with self.lock:
            self._mutations[kind] += 1

    def pause(self) -> None:
        """Spend the configured ``latency_s`` (providers call this once per request)."""
        if self.settings.latency_s > 0:
            time.sleep(self.settings.latency_s)

    # --- provider objects and limits
    def store(self, provider: str, factory: Callable[[], T]) -> T:
        """The provider's store of remote objects, created by ``factory`` after each reset."""
        with self.lock:
            found: T | None = self._stores.get(provider)
            if found is None:
                found = self._stores[provider] = factory()
            return found

    def take_token(self, provider: str, key: str, rate_per_s: float, burst: int | None) -> Quota:
        """One request against the token bucket of ``key`` (a new bucket when the rate changed)."""
        capacity = burst or max(1, math.ceil(rate_per_s))
        with self.lock:
            bucket = self._buckets.get((provider, key))
            if bucket is None or (bucket.rate_per_s, bucket.capacity) != (rate_per_s, capacity):
                bucket = self._buckets[(provider, key)] = TokenBucket(rate_per_s, capacity)
        return bucket.take()

    # --- statistics
    def declare(self, provider: str, counters: Iterable[str]) -> None:
        """Name the counters ``provider`` reports, so the statistics show them from zero."""
        with self.lock:
            self._declared[provider] = tuple(counters)

    def count(self, provider: str, name: str, n: int = 1) -> None:
        with self.lock:
            self._counters.setdefault(provider, Counter())[name] += n

    def saw_ids(self, provider: str, ids: Iterable[str]) -> None:
        """Remember the item ids a provider received (for ``distinct_ids`` in the statistics)."""
        with self.lock:
            self._ids.setdefault(provider, set()).update(ids)

    def record(self, provider: str, method: str, route: str, status: int, path: str = "") -> None:
        with self.lock:
            self._by_route[f"{provider} {method} {route}"] += 1
            self._by_status[status] += 1
            self._log.append((time.time(), provider, method, route, status, path))
            self._logged += 1

    def requests_since(
        self, since_epoch_s: float, *, paths: bool = False
    ) -> list[LogEntry] | list[PathEntry]:
        """Logged requests at or after ``since_epoch_s``, oldest first; with ``paths``, each
        entry ends with the request's path (e.g. which Kombo task a poll asked about)."""
        found: list[PathEntry] = []
        with self.lock:
            # Arrival order: scan back from the newest entry and stop at the first older one,
            # so a benchmark polling for the last second does not copy the whole log.
            for entry in reversed(self._log):
                if entry[0] < since_epoch_s:
                    break
                found.append(entry)
        found.reverse()
        return found if paths else [entry[:5] for entry in found]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            doc: dict[str, Any] = {
                "since_epoch_s": self.reset_epoch_s,
                "requests": self._logged,
                "by_route": dict(self._by_route),
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                "rate_limited": self._by_status.get(429, 0),
                "request_log": {"size": len(self._log), "capacity": REQUEST_LOG_SIZE},
                "in_flight_peak": self.in_flight.peaks(),
                "mutated_answers": sum(self._mutations.values()),
                "mutations": dict(self._mutations),
            }
            for provider in sorted(set(self._declared) | set(self._counters) | set(self._ids)):
                section = dict.fromkeys(self._declared.get(provider, ()), 0)
                section.update(self._counters.get(provider, {}))
                section["distinct_ids"] = len(self._ids.get(provider, ()))
                doc[provider] = section
            return doc
