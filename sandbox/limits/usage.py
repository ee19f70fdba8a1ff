"""What one rate limit let through and refused, for tests and benchmarks (``GET /_sandbox/limits``).

Not thread-safe: its owner (``sandbox.limits.keyed``) holds the limit's lock, so the times
arrive here in the order the limiter decided them.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import Any

from sandbox.limits.windows import Window

__all__ = ["TIMES_KEPT", "Usage"]

#: Accepted requests whose time is kept per limit key: an hour at 27 requests/s, about 9 MB.
TIMES_KEPT = 100_000


class _Peak:
    """The most accepted requests seen in any ``window_s`` seconds, followed as they come (so
    it stays exact past the kept times): two requests share a window when less than
    ``window_s`` apart, as in the sliding-window limiter."""

    def __init__(self, window_s: float, times: Iterable[float]) -> None:
        self.window_s = window_s
        self.most = 0
        self._recent: deque[float] = deque()
        for t in times:
            self.add(t)

    def add(self, t: float) -> None:
        self._recent.append(t)
        while t - self._recent[0] >= self.window_s:
            self._recent.popleft()
        self.most = max(self.most, len(self._recent))


class Usage:
    """Counts by sub-account (a StackOne account, a Kombo integration) and accepted times."""

    def __init__(self) -> None:
        self._accepted: Counter[str] = Counter()
        self._limited: Counter[str] = Counter()
        self._times: deque[tuple[float, str]] = deque(maxlen=TIMES_KEPT)
        self._peaks: dict[Window, _Peak] = {}

    def watch(self, windows: Sequence[Window]) -> None:
        """Follow the peaks of these windows from now on; a window new to this limit starts
        from the kept times."""
        old = self._peaks
        self._peaks = {w: old.get(w) or _Peak(w.window_s, (t for t, _ in self._times)) for w in windows}

    def accept(self, now_s: float, sub_account: str) -> None:
        self._accepted[sub_account] += 1
        self._times.append((now_s, sub_account))
        for peak in self._peaks.values():
            peak.add(now_s)

    def refuse(self, sub_account: str) -> None:
        self._limited[sub_account] += 1

    def report(self, since_s: float) -> dict[str, Any]:
        """Counts, window peaks and accepted times (those at or after ``since_s``)."""
        times: dict[str, list[float]] = {sub: [] for sub in self._accepted | self._limited}
        for t, sub in self._times:
            if t >= since_s:
                times[sub].append(round(t, 6))
        accepted = sum(self._accepted.values())
        return {
            "accepted": accepted,
            "rate_limited": sum(self._limited.values()),
            "windows": [
                {"window": str(w), "limit": w.limit, "window_s": w.window_s, "max_accepted": peak.most}
                for w, peak in self._peaks.items()
            ],
            "times_dropped": accepted - len(self._times),
            "sub_accounts": {
                sub: {
                    "accepted": self._accepted[sub],
                    "rate_limited": self._limited[sub],
                    "accepted_at_s": times[sub],
                }
                for sub in sorted(times)
            },
        }
