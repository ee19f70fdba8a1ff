"""Storage for limiters: three atomic primitives, in Redis (fleet-wide) or in memory (tests).

Policy lives in ``workers.ratelimit`` (which budget, which slot, for how long); a backend only
answers "go or wait how long" atomically. Times are milliseconds.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple, Protocol

__all__ = ["GcraWindow", "LimiterBackend", "MemoryBackend"]


class GcraWindow(NamedTuple):
    """One window of a budget as the backend sees it: where its state lives, its pace and burst."""

    key: str
    emission_ms: float
    burst: int
    #: Spent by other connections too (a provider budget), not only this one's own cap.
    shared: bool = True


class LimiterBackend(Protocol):
    def gcra(
        self,
        pause_key: str,
        windows: list[GcraWindow],
        *,
        reserve_ms: int = 0,
        cost: int = 1,
        used_key: str,
    ) -> tuple[int, int]:
        """Take ``cost`` requests from every window at once, or from none, unless paused: 0 to
        go, else ms to wait; and the backend's clock (ms) at the decision, so a booking can name
        its moment on that clock.

        When the wait is at most ``reserve_ms`` the request is *booked*: the windows are spent
        for that future moment and the answer is negative (``-wait``). The caller then goes at
        that moment without asking again, instead of competing for the budget a second time.
        Granted requests are counted under ``used_key`` (what ``counts`` reads back).
        """
        ...

    def counts(self, keys: list[str]) -> list[int]:
        """The numbers counted under ``keys`` (0 where none)."""
        ...

    def now_ms(self) -> int:
        """The backend's clock, in ms (Redis' own for the Redis backend)."""
        ...

    def pause(self, pause_key: str, *, ms: int, reason: str) -> None:
        """Nobody spends the budget behind ``pause_key`` for ``ms`` (never shortens a pause)."""
        ...

    def paused_ms(self, pause_key: str) -> int:
        """How much longer the pause lasts (0 when none)."""
        ...

    def slot(self, key: str, holder: str, *, limit: int, lease_ms: int) -> int:
        """Take or renew ``holder``'s slot among ``limit``: 0 on success, else ms until the
        earliest lease expires. Expired leases are dropped first: a dead holder frees its slot."""
        ...

    def count_live(self, key: str) -> int:
        """Slots held under ``key`` whose lease has not expired."""
        ...

    def release(self, key: str, holder: str) -> None: ...

    def value(self, key: str) -> str | None:
        """A small value the limiter keeps (a booking, a learned cap), or None."""
        ...

    def values(self, keys: list[str]) -> list[str | None]:
        """``value`` of each key, in one step."""
        ...

    def put(self, key: str, value: str, *, ttl_ms: int) -> None:
        """Keep ``value`` under ``key`` for ``ttl_ms``."""
        ...

    def drop(self, key: str) -> None: ...


class MemoryBackend:
    """The same primitives for one process, for unit tests and experiments."""

    def __init__(self, clock: object = None) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}
        self._pauses: dict[str, float] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._values: dict[str, tuple[str, float]] = {}
        self._counts: dict[str, int] = {}
        self._clock = clock or (lambda: time.time() * 1000)

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def gcra(
        self,
        pause_key: str,
        windows: list[GcraWindow],
        *,
        reserve_ms: int = 0,
        cost: int = 1,
        used_key: str,
    ) -> tuple[int, int]:
        with self._lock:
            now = self._now()
            paused = self._pauses.get(pause_key, 0) - now
            if paused > 0:
                return int(paused) + 1, int(now)
            waits = []
            for window in windows:
                tat = max(self._tat.get(window.key, now), now)
                allow_at = tat - window.emission_ms * (max(window.burst, cost) - cost)
                waits.append(int(allow_at - now) + 1 if now < allow_at else 0)
            wait = max(waits, default=0)
            if wait > reserve_ms or any(
                wait - w > win.emission_ms for w, win in zip(waits, windows, strict=True)
            ):
                return wait, int(now)  # not booked (see gcra.lua)
            for window in windows:
                tat = max(self._tat.get(window.key, now), now + wait)
                self._tat[window.key] = tat + window.emission_ms * cost
            self._counts[used_key] = self._counts.get(used_key, 0) + cost
            return -wait, int(now)

    def counts(self, keys: list[str]) -> list[int]:
        with self._lock:
            return [self._counts.get(k, 0) for k in keys]

    def now_ms(self) -> int:
        return int(self._now())

    def pause(self, pause_key: str, *, ms: int, reason: str) -> None:
        with self._lock:
            until = self._now() + ms
            self._pauses[pause_key] = max(until, self._pauses.get(pause_key, 0))

    def paused_ms(self, pause_key: str) -> int:
        with self._lock:
            return max(0, int(self._pauses.get(pause_key, 0) - self._now()))

    def slot(self, key: str, holder: str, *, limit: int, lease_ms: int) -> int:
        with self._lock:
            now = self._now()
            leases = {h: t for h, t in self._slots.get(key, {}).items() if t > now}
            self._slots[key] = leases
            if holder in leases or len(leases) < limit:
                leases[holder] = now + lease_ms
                return 0
            return int(min(leases.values()) - now) + 1

    def count_live(self, key: str) -> int:
        with self._lock:
            now = self._now()
            return sum(1 for t in self._slots.get(key, {}).values() if t > now)

    def release(self, key: str, holder: str) -> None:
        with self._lock:
            self._slots.get(key, {}).pop(holder, None)

    def value(self, key: str) -> str | None:
        with self._lock:
            found = self._values.get(key)
            return found[0] if found is not None and found[1] > self._now() else None

    def values(self, keys: list[str]) -> list[str | None]:
        return [self.value(key) for key in keys]

    def put(self, key: str, value: str, *, ttl_ms: int) -> None:
        with self._lock:
            self._values[key] = (value, self._now() + ttl_ms)

    def drop(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)
