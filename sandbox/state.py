"""The sandbox's memory: request statistics and each provider's remote objects."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from typing import Any

from sandbox.limits import InFlight, TokenBucket
from sandbox.settings import SandboxSettings

__all__ = ["State"]

#: Requests remembered for rate measurements (GET /_sandbox/requests).
REQUEST_LOG_SIZE = 300_000


class State:
    """Everything mutable, guarded by one lock held only for short bookkeeping."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.rng = random.Random(settings.seed)
        self.inflight = InFlight()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.log: deque[tuple[float, str, str, str, int]] = deque(maxlen=REQUEST_LOG_SIZE)
            self.buckets: dict[tuple[str, str], TokenBucket] = {}
            #: Free-form per-provider stores and counters (tasks, courses, operations...).
            self.providers: dict[str, dict[str, Any]] = {}
            self.counters: dict[str, Counter[str]] = {}
            self.origin_ids: dict[str, set[str]] = {}

    def store(self, provider: str) -> dict[str, Any]:
        with self.lock:
            return self.providers.setdefault(provider, {})

    def count(self, provider: str, name: str, n: int = 1) -> None:
        with self.lock:
            self.counters.setdefault(provider, Counter())[name] += n

    def saw_items(self, provider: str, ids: list[str]) -> None:
        with self.lock:
            self.counters.setdefault(provider, Counter())["items_received"] += len(ids)
            self.origin_ids.setdefault(provider, set()).update(ids)

    def record(self, provider: str, method: str, route: str, status: int) -> None:
        with self.lock:
            self.by_route[f"{provider} {method} {route}"] += 1
            self.by_status[str(status)] += 1
            self.log.append((time.time(), provider, method, route, status))

    def bucket(self, provider: str, key: str, rate_per_s: float, burst: int | None) -> TokenBucket:
        with self.lock:
            found = self.buckets.get((provider, key))
            capacity = burst or max(1, int(rate_per_s + 0.999))
            if found is None or found.rate_per_s != rate_per_s or found.capacity != capacity:
                found = self.buckets[(provider, key)] = TokenBucket(rate_per_s, capacity)
            return found

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def stats(self) -> dict[str, Any]:
        with self.lock:
            doc: dict[str, Any] = {
                "requests": dict(self.by_route),
                "statuses": dict(self.by_status),
                "rate_limited": self.by_status.get("429", 0),
                "inflight_peak": dict(self.inflight.peak),
            }
            for provider in set(self.counters) | set(self.origin_ids):
                entry = dict(self.counters.get(provider, {}))
                entry["distinct_ids"] = len(self.origin_ids.get(provider, ()))
                doc[provider] = entry
            return doc

    def requests_since(self, since: float) -> list[tuple[float, str, str, str, int]]:
        with self.lock:
            return [entry for entry in self.log if entry[0] >= since]
