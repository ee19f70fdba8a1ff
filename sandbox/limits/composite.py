"""Several limits on one stream of requests at once, e.g. 20/s + 600/min + 5000/h."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from sandbox.limits.base import Clock, Limiter, Quota

__all__ = ["AllOf", "tightest"]


class AllOf(Limiter):
    """A request passes only when every part admits it, and then takes from every part; refused,
    it takes from none. The parts belong to the composite: its lock guards them all, so use
    them only through it."""

    def __init__(self, parts: Sequence[Limiter], clock: Clock = time.monotonic) -> None:
        if not parts:
            raise ValueError("a composite needs at least one limiter")
        super().__init__(clock)
        self.parts = tuple(parts)

    def admits(self, now_s: float) -> bool:
        # Every part is asked, not just up to the first refusal: asking brings each up to now_s
        # (a bucket refills, a log forgets), which its quota then reports.
        return all([part.admits(now_s) for part in self.parts])

    def commit(self, now_s: float) -> None:
        for part in self.parts:
            part.commit(now_s)

    def quota(self, now_s: float, allowed: bool) -> Quota:
        return tightest([part.quota(now_s, allowed) for part in self.parts], allowed)


def tightest(quotas: Sequence[Quota], allowed: bool) -> Quota:
    """The quota the headers report for several limits: the one closest to refusing (fewest
    requests left, then the longest wait, then the latest reset), with the joint decision.

    Its ``wait_s`` is the joint one too: a limit with requests left has no wait, so the longest
    wait belongs to a limit with none left.
    """
    closest = min(quotas, key=lambda q: (q.remaining, -q.wait_s, -q.reset_s))
    return replace(closest, allowed=allowed)
