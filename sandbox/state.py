"""The sandbox's memory: request statistics, the request log and each provider's remote objects.

One lock guards the statistics and is held only for a few dictionary operations per request.
Providers keep their objects in a store of their own (``State.store``) with their own lock, and
limits have theirs (``sandbox.limits``), so no request ever waits on another one's work.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sandbox.limits import ConcurrencyCounter, FaultInjector, Quota
from sandbox.limits.keyed import KeyedLimits
from sandbox.limits.usage import TIMES_KEPT
from sandbox.limits.windows import Limit
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
        #: The rate limiters' clock, in epoch seconds; a test may set a fake one, then reset.
        self.limits_clock: Callable[[], float] = time.time
        self.reset()

    def reset(self) -> None:
        """Forget every remote object, statistic, rate limit and logged request; reseed the faults."""
        with self.lock:
            self.reset_epoch_s = time.time()
            self._by_route: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._log: deque[PathEntry] = deque(maxlen=REQUEST_LOG_SIZE)
            self._logged = 0
            self._counters: dict[str, Counter[str]] = {}
            self._ids: dict[str, set[str]] = {}
            self._stores: dict[str, Any] = {}
            self._limits = KeyedLimits(self.limits_clock)
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

    def take_rate(self, provider: str, limits: Sequence[Limit], sub_account: str) -> Quota | None:
        """One request against ``limits`` (each counted by its own key) with the algorithm of
        the ``limiter`` setting: it passes every limit and is charged to each, or is charged
        nothing. None when no limit is set. A limit whose setting changed starts afresh.
        ``sub_account`` is who asked within the key (``GET /_sandbox/limits`` counts them)."""
        algorithm = self.settings.limiter
        resolved = [(limit.key, limit.resolve(algorithm)) for limit in limits]
        with self.lock:
            keyed = self._limits
        return keyed.take(provider, resolved, algorithm, sub_account)

    def limits_report(self, since_epoch_s: float = 0.0) -> dict[str, Any]:
        """What every rate limit let through since the last reset (``GET /_sandbox/limits``);
        accepted times before ``since_epoch_s`` are left out."""
        with self.lock:
            keyed, reset_epoch_s, providers = self._limits, self.reset_epoch_s, sorted(self._declared)
        return {
            "limiter": self.settings.limiter,
            "since_epoch_s": reset_epoch_s,
            "times_kept_per_key": TIMES_KEPT,
            "providers": {name: {} for name in providers} | keyed.report(since_epoch_s),
        }

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
