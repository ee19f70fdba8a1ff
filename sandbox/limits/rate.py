"""Rate-limit algorithms behind one interface, because providers rarely say which one they run.

Each enforces N requests per W seconds and admits a different traffic shape:

- ``TokenBucket``: N tokens refilled continuously at N/W per second (a burst of N, then the rate);
- ``FixedWindow``: N per window aligned on multiples of W, the count reset at each boundary
  (up to 2N pass in W seconds that straddle a boundary);
- ``SlidingWindow``: an exact log, at most N in any W seconds.
"""

from __future__ import annotations

import math
import time
from collections import deque

from sandbox.limits.base import Clock, Limiter, Quota, ceil_s

__all__ = ["FixedWindow", "SlidingWindow", "TokenBucket"]


def _window(limit: int, window_s: float) -> None:
    if limit < 1 or not window_s > 0:
        raise ValueError(f"need limit >= 1 and window_s > 0, got {limit}, {window_s}")


class TokenBucket(Limiter):
    """``capacity`` tokens refilled continuously at ``rate_per_s``; a request takes one token."""

    def __init__(self, rate_per_s: float, capacity: int, clock: Clock = time.monotonic) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError(f"need rate_per_s > 0 and capacity >= 1, got {rate_per_s}, {capacity}")
        super().__init__(clock)
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._tokens = float(capacity)
        self._updated_s = clock()

    def admits(self, now_s: float) -> bool:
        # A wall clock may step back: that refills nothing rather than taking tokens away.
        elapsed_s = max(0.0, now_s - self._updated_s)
        self._tokens = min(self.capacity, self._tokens + elapsed_s * self.rate_per_s)
        self._updated_s = max(self._updated_s, now_s)
        return self._tokens >= 1.0

    def commit(self, now_s: float) -> None:
        self._tokens -= 1.0

    def quota(self, now_s: float, allowed: bool) -> Quota:
        reset_s = ceil_s((self.capacity - self._tokens) / self.rate_per_s)
        wait_s = 0 if self._tokens >= 1.0 else ceil_s((1.0 - self._tokens) / self.rate_per_s)
        return Quota(allowed, self.capacity, int(self._tokens), reset_s, wait_s)


class FixedWindow(Limiter):
    """``limit`` requests per window of ``window_s`` seconds aligned on multiples of ``window_s``
    from the clock's zero; with the wall clock (the default) that is the Unix epoch, so a
    60-second window is a calendar minute, as providers that count per minute do."""

    def __init__(self, limit: int, window_s: float, clock: Clock = time.time) -> None:
        _window(limit, window_s)
        super().__init__(clock)
        self.limit, self.window_s = limit, window_s
        self._index = math.floor(clock() / window_s)  #: which window ``_count`` counts
        self._count = 0

    def admits(self, now_s: float) -> bool:
        index = math.floor(now_s / self.window_s)
        if index != self._index:
            self._index, self._count = index, 0
        return self._count < self.limit

    def commit(self, now_s: float) -> None:
        self._count += 1

    def quota(self, now_s: float, allowed: bool) -> Quota:
        remaining = self.limit - self._count
        reset_s = ceil_s((self._index + 1) * self.window_s - now_s)
        return Quota(allowed, self.limit, remaining, reset_s, 0 if remaining else reset_s)


class SlidingWindow(Limiter):
    """At most ``limit`` requests in any ``window_s`` seconds: an exact log of the admitted ones.
    Two requests share a window when they are less than ``window_s`` apart."""

    def __init__(self, limit: int, window_s: float, clock: Clock = time.monotonic) -> None:
        _window(limit, window_s)
        super().__init__(clock)
        self.limit, self.window_s = limit, window_s
        self._log: deque[float] = deque()

    def admits(self, now_s: float) -> bool:
        while self._log and now_s - self._log[0] >= self.window_s:
            self._log.popleft()
        return len(self._log) < self.limit

    def commit(self, now_s: float) -> None:
        self._log.append(now_s)

    def quota(self, now_s: float, allowed: bool) -> Quota:
        remaining = self.limit - len(self._log)
        # Full again once the newest request leaves the window; one more once the oldest does.
        reset_s = ceil_s(self.window_s - (now_s - self._log[-1])) if self._log else 0
        wait_s = 0 if remaining else ceil_s(self.window_s - (now_s - self._log[0]))
        return Quota(allowed, self.limit, remaining, reset_s, wait_s)
