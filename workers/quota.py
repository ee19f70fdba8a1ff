"""Quota windows: "N requests in any W seconds", as a connection or a provider declares them.

Providers count in fixed windows, sliding windows or token buckets and rarely say which. A
``Window`` is read in the strictest way (at most N in *any* W seconds, sliding), and its pace
and burst are chosen so that the requests it grants satisfy every one of those algorithms at
the declared rate (``workers.ratelimit`` applies them; tests run the fleet against all three).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workers.errors import ConfigError

__all__ = ["ARRIVAL_JITTER_S", "RATE_SAFETY", "Window", "bursts", "late_slack_ms", "parse_windows"]

#: Pace a little under every declared window: a request granted exactly on its tick can reach
#: the provider a few ms early and trip a limiter that is exactly at the rate.
RATE_SAFETY = 0.98
#: Requests granted on time still reach the provider up to tens of ms apart from how they
#: left (connection set-up, a busy host's scheduler): a window enforced to the request (a
#: sliding or fixed one) must absorb that. 50 ms costs a per-second limit 5 %, a per-minute
#: one nothing measurable. (Found by the fleet tests against a fixed-window sandbox.)
ARRIVAL_JITTER_S = 0.05
#: At most half a second's worth of requests may go at once, whatever the window: a provider
#: declaring "1000/min" may still run a token bucket of a second's worth, and requests granted
#: together reach it spread only by their own latency.
_BURST_S = 0.5

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_WINDOW = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*$")


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in any ``seconds`` (the strictest reading of a quota)."""

    limit: float
    seconds: float

    @property
    def emission_ms(self) -> float:
        """The pace: one request every this many ms, a little under the declared rate, and as if
        the window were ``ARRIVAL_JITTER_S`` longer (which only a short window feels)."""
        return (self.seconds + ARRIVAL_JITTER_S) * 1000.0 / (self.limit * RATE_SAFETY)

    def burst(self, *, paced_by_a_short_window: bool) -> int:
        """Requests that may go back to back. Never more than the window leaves over the paced
        rate, so that no W-second interval, sliding or fixed, ever holds more than ``limit``
        even with requests arriving up to the jitter apart from their grants
        (``floor((W + jitter) / T) + burst <= N``). Unless a window of a second or less paces the same
        budget, also never more than half a second's worth: a provider declaring "1000/min"
        may still run a token bucket of a second's worth, and requests granted together reach
        it spread only by their own latency."""
        allowed = self.limit - int((self.seconds + ARRIVAL_JITTER_S) * 1000 / self.emission_ms)
        if not paced_by_a_short_window:
            allowed = min(allowed, int(self.per_s * RATE_SAFETY * _BURST_S))
        return max(1, int(allowed))

    @property
    def per_s(self) -> float:
        return self.limit / self.seconds

    def __str__(self) -> str:
        for unit, seconds in (("h", 3600.0), ("min", 60.0), ("s", 1.0)):
            if self.seconds == seconds:
                return f"{self.limit:g}/{unit}"
        return f"{self.limit:g}/{self.seconds:g}s"


def parse_windows(value: Any, where: str) -> tuple[Window, ...]:
    """``["20/s", "600/min", "5000/h", "100/10s"]`` as windows; a ConfigError names the bad one."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f'{where} must be a list of limits like ["20/s", "600/min"]')
    windows = []
    for text in value:
        match = _WINDOW.match(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(f'{where}: {text!r} is not a limit like "600/min", "20/s" or "100/10s"')
        count, amount, unit = int(match[1]), match[2], match[3] or "s"
        if unit not in _UNITS or (not amount and not match[3]) or count <= 0:
            raise ConfigError(
                f'{where}: {text!r} is not a limit like "600/min", "20/s" or "100/10s"'
                f" (units: s, min, h; the count must be above 0)"
            )
        seconds = (float(amount) if amount else 1.0) * _UNITS[unit]
        if seconds <= 0:
            raise ConfigError(f"{where}: {text!r} has an empty window")
        windows.append(Window(float(count), seconds))
    return tuple(windows)


def bursts(windows: tuple[Window, ...]) -> list[int]:
    """The burst of each of a budget's windows (see ``Window.burst``)."""
    short = any(w.seconds <= 1.0 for w in windows)
    return [w.burst(paced_by_a_short_window=short and w.seconds > 1.0) for w in windows]


def late_slack_ms(windows: tuple[Window, ...]) -> float:
    """How late a request granted for moment T may still be sent without any window's limit
    being exceeded, whatever the algorithm.

    Grants paced at T per request with a burst b hold at most ``b + floor(L / T)`` requests in
    any interval of length L; sending each up to d late puts at most ``b + floor((W + d) / T)``
    in a W-second window, which stays within N while ``d < (N - b + 1) * T - W``; less the
    arrival jitter the pace already leaves room for. A per-minute window leaves most of a second,
    a per-second one about 20 ms.
    """
    slack = [
        (w.limit - burst + 1) * w.emission_ms - (w.seconds + ARRIVAL_JITTER_S) * 1000
        for w, burst in zip(windows, bursts(windows), strict=True)
    ]
    return max(0.0, min(slack, default=0.0))
