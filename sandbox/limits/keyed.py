"""Rate limiters by provider and key, built from the settings of the moment, with their usage.

One request may have to pass several limits that other requests share, e.g. a Thought
Industries import counts against its key's plan quota (which polls share too) and against the
course-management category. It passes only when every limit admits it and then takes from all,
or from none: the limits' locks are held together for the decision.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from sandbox.limits.base import Clock, Limiter, Quota
from sandbox.limits.composite import tightest
from sandbox.limits.usage import Usage
from sandbox.limits.windows import Window, build

__all__ = ["KeyedLimits"]

Windows = tuple[Window, ...]


class _Keyed:
    """One limit key's limiter, the settings it was built from, and its usage."""

    def __init__(self, order: int) -> None:
        self.order = order  #: locks are taken by increasing order, so none waits in a cycle
        self.lock = threading.Lock()
        self.built_from: tuple[str, Windows] | None = None
        self.limiter: Limiter | None = None
        self.usage = Usage()

    def configure(self, algorithm: str, windows: Windows, clock: Clock) -> Limiter:
        """The limiter for these settings; a new one (with nothing taken) when they changed."""
        if self.limiter is None or self.built_from != (algorithm, windows):
            self.limiter = build(algorithm, windows, clock)
            self.built_from = (algorithm, windows)
            self.usage.watch(windows)
        return self.limiter


class KeyedLimits:
    """Every rate limit the providers asked for since the sandbox started (or was reset)."""

    def __init__(self, clock: Clock = time.time) -> None:
        #: Epoch seconds by default: fixed windows align on calendar seconds and minutes, and the
        #: accepted times compare with ``GET /_sandbox/requests``.
        self._clock = clock
        self._lock = threading.Lock()  #: guards ``_keyed`` only, never held during a decision
        self._keyed: dict[tuple[str, str], _Keyed] = {}
        self._order = itertools.count()

    def take(
        self,
        provider: str,
        limits: Sequence[tuple[str, tuple[Window, ...]]],
        algorithm: str,
        sub_account: str,
    ) -> Quota | None:
        """One request against every ``(key, windows)`` of ``provider`` that has windows, all or
        none; None when none has (unlimited). ``sub_account`` is who, within the key, asked."""
        asked = [(self._get(provider, key), windows) for key, windows in limits if windows]
        if not asked:
            return None
        if len({id(keyed) for keyed, _ in asked}) < len(asked):  # its lock would be taken twice
            raise ValueError(f"a {provider} limit key is asked twice in {[key for key, _ in limits]}")
        with ExitStack() as held:
            for keyed, _ in sorted(asked, key=lambda a: a[0].order):
                held.enter_context(keyed.lock)
            # Read under the locks, so one key's decisions, and the times it keeps, are in order.
            now = self._clock()
            limiters = [keyed.configure(algorithm, windows, self._clock) for keyed, windows in asked]
            admitted = [limiter.admits(now) for limiter in limiters]
            allowed = all(admitted)
            for (keyed, _), limiter, admits in zip(asked, limiters, admitted, strict=True):
                if allowed:
                    limiter.commit(now)
                    keyed.usage.accept(now, sub_account)
                elif not admits:  # a 429 counts against the limits that refused it
                    keyed.usage.refuse(sub_account)
            return tightest([limiter.quota(now, allowed) for limiter in limiters], allowed)

    def report(self, since_s: float = 0.0) -> dict[str, dict[str, Any]]:
        """``{provider: {key: usage}}`` (see ``Usage.report``), with each key's algorithm."""
        with self._lock:
            keyed = sorted(self._keyed.items())
        doc: dict[str, dict[str, Any]] = {}
        for (provider, key), one in keyed:
            with one.lock:
                algorithm = one.built_from[0] if one.built_from else None
                doc.setdefault(provider, {})[key] = {"algorithm": algorithm, **one.usage.report(since_s)}
        return doc

    def _get(self, provider: str, key: str) -> _Keyed:
        with self._lock:
            found = self._keyed.get((provider, key))
            if found is None:
                found = self._keyed[(provider, key)] = _Keyed(next(self._order))
            return found
