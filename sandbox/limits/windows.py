"""Which rate limits a request must pass, as the settings state them, and the limiters for them.

Every limit is a window of N requests per W seconds, whatever the algorithm that enforces it
(``ALGORITHMS``): a token bucket of N tokens refilled at N/W per second, a fixed window of N
per W aligned seconds, or a sliding log of at most N in any W seconds. A rate knob (R
requests per second) is one such window, the ``*_windows`` knobs add more ("600/60").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.limits.base import Clock, Limiter
from sandbox.limits.composite import AllOf
from sandbox.limits.rate import FixedWindow, SlidingWindow, TokenBucket

__all__ = ["ALGORITHMS", "Limit", "Window", "build", "parse_window"]

#: The values of the ``limiter`` setting (the first is the default).
ALGORITHMS = ("token_bucket", "fixed_window", "sliding_window")


@dataclass(frozen=True)
class Window:
    limit: int  #: requests
    window_s: float

    def __str__(self) -> str:
        return f"{self.limit}/{self.window_s:g}"


def parse_window(text: str) -> Window:
    """``"N/W"``: N requests per W seconds, both positive.

    Raises:
        ValueError: naming the text.
    """
    n, slash, w = text.partition("/")
    try:
        window = Window(int(n), float(w))
    except ValueError:
        window = Window(0, 0.0)
    if not slash or window.limit < 1 or not 0 < window.window_s < math.inf:
        raise ValueError(f"{text!r} is not N/W (N requests per W seconds, both positive), e.g. 600/60")
    return window


@dataclass(frozen=True)
class Limit:
    """One limit a request must pass: the key it is counted by (an API key, a company), a rate
    knob with its token-bucket burst, and extra windows ("N/W"); nothing set, no limit."""

    key: str
    rate_per_s: float | None = None
    burst: int | None = None
    windows: tuple[str, ...] | None = None

    def resolve(self, algorithm: str) -> tuple[Window, ...]:
        """The windows this limit enforces with ``algorithm`` (empty: unlimited)."""
        extra = tuple(parse_window(text) for text in self.windows or ())
        if self.rate_per_s is None:
            return extra
        return (_rate_window(self.rate_per_s, self.burst, algorithm), *extra)


def _rate_window(rate_per_s: float, burst: int | None, algorithm: str) -> Window:
    """R requests per second as one window.

    A bucket holds ``burst`` tokens (default: one second's worth, rounded up) refilled at R. A
    window holds R requests per 1 s when R is whole; otherwise floor(R) per floor(R)/R seconds,
    which keeps the rate exact (16.7/s: 16 per 0.958 s) where rounding the count would not.
    """
    if algorithm == "token_bucket":
        n = burst or max(1, math.ceil(rate_per_s))
    else:
        n = max(1, math.floor(rate_per_s))
    return Window(n, n / rate_per_s)


def build(algorithm: str, windows: Sequence[Window], clock: Clock) -> Limiter:
    """One limiter enforcing every window with ``algorithm`` (a composite for several)."""
    parts = [_one(algorithm, w, clock) for w in windows]
    return parts[0] if len(parts) == 1 else AllOf(parts, clock)


def _one(algorithm: str, window: Window, clock: Clock) -> Limiter:
    if algorithm == "token_bucket":
        return TokenBucket(window.limit / window.window_s, window.limit, clock)
    if algorithm == "fixed_window":
        return FixedWindow(window.limit, window.window_s, clock)
    if algorithm == "sliding_window":
        return SlidingWindow(window.limit, window.window_s, clock)
    raise ValueError(f"no limiter {algorithm!r}; known: {', '.join(ALGORITHMS)}")
