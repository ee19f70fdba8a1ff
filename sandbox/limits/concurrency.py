"""Requests in flight per key, against a concurrency limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ConcurrencyCounter"]


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
