"""A token bucket: a request takes a token; tokens come back continuously at a fixed rate."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Quota", "TokenBucket"]


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
