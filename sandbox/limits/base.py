"""What every rate limiter shares: its decision (``Quota``) and the three steps of one.

A decision is three steps (``admits``, ``commit``, ``quota``) that ``Limiter.take`` runs under
the limiter's lock; a caller that holds the locks itself (``AllOf``, ``sandbox.limits.keyed``)
runs them to ask several limiters before taking from any. A refused request takes nothing.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Clock", "Limiter", "Quota", "ceil_s"]

Clock = Callable[[], float]


@dataclass(frozen=True)
class Quota:
    """One decision of a rate limiter, with what the rate-limit headers report."""

    allowed: bool
    limit: int  #: requests per window (a token bucket: its capacity)
    remaining: int  #: whole requests still allowed, after this one
    reset_s: int  #: seconds until the limiter is back to its full limit (rounded up)
    #: Seconds until a next request would be allowed (rounded up; 0 while ``remaining``): what
    #: Retry-After says. It differs from ``reset_s`` for a bucket, whose tokens return one by one.
    wait_s: int = 0


def ceil_s(seconds: float) -> int:
    """Whole seconds, rounded up, for headers: a client that waits them is not too early."""
    # Clock arithmetic leaves 1.0000000001 where 1 is meant: that must not round up to 2.
    return max(0, math.ceil(seconds - 1e-9))


class Limiter(ABC):
    """One rate limit; ``take`` is thread-safe, the three steps it runs need the lock held."""

    def __init__(self, clock: Clock) -> None:
        self.lock = threading.Lock()
        self._clock = clock

    def take(self, now_s: float | None = None) -> Quota:
        """One request at ``now_s`` (default: the clock's now); the answer says if it passed."""
        with self.lock:
            return self.decide(self._clock() if now_s is None else now_s)

    def decide(self, now_s: float) -> Quota:
        """``take`` for a caller that holds the lock."""
        allowed = self.admits(now_s)
        if allowed:
            self.commit(now_s)
        return self.quota(now_s, allowed)

    @abstractmethod
    def admits(self, now_s: float) -> bool:
        """Whether one more request fits at ``now_s``; takes nothing."""

    @abstractmethod
    def commit(self, now_s: float) -> None:
        """Take one request, right after ``admits`` said yes at the same ``now_s``."""

    @abstractmethod
    def quota(self, now_s: float, allowed: bool) -> Quota:
        """What the limiter reports at ``now_s`` once the decision ``allowed`` is applied."""
