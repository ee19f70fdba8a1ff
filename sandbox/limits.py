"""Rate limits and concurrency limits as a provider enforces them, in memory."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

__all__ = ["InFlight", "TokenBucket"]


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate_per_s``; one request takes one token."""

    rate_per_s: float
    capacity: int
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if self.tokens < 0:
            self.tokens = float(self.capacity)
            self.updated = time.monotonic()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now

    def take(self) -> bool:
        with self._lock:
            self._refill(time.monotonic())
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False

    def remaining(self) -> int:
        with self._lock:
            self._refill(time.monotonic())
            return int(self.tokens)

    def reset_s(self) -> int:
        """Seconds until the bucket is full again (Kombo's ratelimit-reset)."""
        with self._lock:
            self._refill(time.monotonic())
            return math.ceil((self.capacity - self.tokens) / self.rate_per_s)

    def wait_s(self) -> float:
        """Seconds until one token is available (Retry-After)."""
        with self._lock:
            self._refill(time.monotonic())
            return max(0.0, (1.0 - self.tokens) / self.rate_per_s)


class InFlight:
    """Counts requests in flight per key; ``enter`` refuses above the limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def enter(self, key: str, limit: int) -> bool:
        with self._lock:
            n = self._counts.get(key, 0)
            if n >= limit:
                return False
            self._counts[key] = n + 1
            self.peak[key] = max(self.peak.get(key, 0), n + 1)
            return True

    def leave(self, key: str) -> None:
        with self._lock:
            self._counts[key] = max(0, self._counts.get(key, 0) - 1)

    def current(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)
