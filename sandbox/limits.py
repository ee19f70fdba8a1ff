"""What a provider enforces or suffers, in memory: a token bucket, a concurrency counter, faults.

Policy (which key, which limit, which headers) stays in the provider modules; these classes are
the thread-safe mechanics, each with its own small lock so that limits never serialise requests.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sandbox.settings import SandboxSettings

__all__ = ["ConcurrencyCounter", "Fault", "FaultInjector", "Quota", "TokenBucket"]


@dataclass(frozen=True)
class Quota:
    """One decision of a token bucket, with what the rate-limit headers report."""

    allowed: bool
    limit: int  #: bucket capacity, in requests
    remaining: int  #: whole tokens left after this request
    reset_s: int  #: seconds until the bucket is full again (rounded up)


class TokenBucket:
    """``capacity`` tokens refilled continuously at ``rate_per_s``; a request takes one token."""

    def __init__(self, rate_per_s: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError(f"need rate_per_s > 0 and capacity >= 1, got {rate_per_s}, {capacity}")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._updated_s = clock()
        self._lock = threading.Lock()

    def take(self) -> Quota:
        """Take a token if there is one; the answer says whether it was allowed."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated_s) * self.rate_per_s)
            self._updated_s = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            reset_s = math.ceil((self.capacity - self._tokens) / self.rate_per_s - 1e-9)
            return Quota(allowed, self.capacity, int(self._tokens), max(0, reset_s))


class ConcurrencyCounter:
    """Requests in flight per key; entering above the key's limit is refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}

    @contextmanager
    def slot(self, key: str, limit: int) -> Iterator[int | None]:
        """Hold a slot for the ``with`` block; yields the slots left, or None when refused."""
        with self._lock:
            n = self._in_flight.get(key, 0)
            entered = n < limit
            if entered:
                self._in_flight[key] = n + 1
                self._peak[key] = max(self._peak.get(key, 0), n + 1)
        try:
            yield limit - n - 1 if entered else None
        finally:
            if entered:
                with self._lock:
                    self._in_flight[key] -= 1

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._in_flight.get(key, 0)

    def peaks(self, reset: bool = False) -> dict[str, int]:
        """The most requests seen in flight at once, per key (since the last reset)."""
        with self._lock:
            peaks = dict(self._peak)
            if reset:
                self._peak = dict(self._in_flight)
            return peaks


FaultKind = Literal["down", "5xx", "429"]


@dataclass(frozen=True)
class Fault:
    """What to do to one provider request: refuse it (``kind``) or answer late (``delay_s``)."""

    kind: FaultKind | None = None
    delay_s: float = 0.0


class FaultInjector:
    """Draws faults from the settings' rates with one seeded generator, so a run can be replayed.

    Every draw consumes exactly three random numbers whatever the rates, so changing one rate
    does not shift the sequence another rate sees.
    """

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def draw(self, settings: SandboxSettings, now_s: float | None = None) -> Fault:
        with self._lock:
            r_5xx, r_429, r_timeout = self._rng.random(), self._rng.random(), self._rng.random()
        down_until = settings.down_until_epoch_s
        if down_until is not None and (time.time() if now_s is None else now_s) < down_until:
            return Fault("down")
        if r_5xx < settings.fail_rate_5xx:
            return Fault("5xx")
        if r_429 < settings.fail_rate_429:
            return Fault("429")
        if r_timeout < settings.timeout_rate:
            return Fault(None, settings.timeout_sleep_s)
        return Fault()
