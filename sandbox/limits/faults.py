"""Faults a provider suffers, drawn from the settings' rates: outages, 5xx, 429, late answers."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # for annotations only: the settings import the limits' window syntax
    from sandbox.settings import SandboxSettings

__all__ = ["Fault", "FaultInjector"]


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
