"""The sandbox's behaviour, adjustable at start (flags) and at run time (POST /_sandbox/config)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["SandboxSettings"]


@dataclass
class SandboxSettings:
    """Every knob of the fake providers. Durations in seconds, rates in requests per second."""

    #: Seed for the random fault injection, so a failing test can be replayed.
    seed: int | None = None
    # --- Kombo
    kombo_api_keys: tuple[str, ...] = ("sandbox-kombo-key",)
    kombo_integrations: tuple[str, ...] = ("sandbox:coursesync-demo",)
    #: A bulk task stays PENDING this long, then COMPLETED.
    kombo_pending_s: float = 1.0
    kombo_max_items: int = 1000
    #: Token bucket per API key over every Kombo request (polls included); None = unlimited.
    kombo_rate_per_s: float | None = None
    kombo_rate_burst: int | None = None
    #: POST action requests in flight per integration before 429 CONCURRENCY_LIMIT_EXCEEDED.
    kombo_concurrency_limit: int = 30
    # --- every provider
    max_body_bytes: int = 10_000_000
    #: Added to every provider request; makes concurrency observable.
    latency_s: float = 0.0
    fail_rate_5xx: float = 0.0
    fail_rate_429: float = 0.0
    #: Share of requests that are processed but answered only after timeout_sleep_s.
    timeout_rate: float = 0.0
    timeout_sleep_s: float = 35.0
    #: Until this time every provider request gets 503 (a provider outage).
    down_until_epoch_s: float | None = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown names or wrong types raise ValueError naming them."""
        known = {f.name: f for f in fields(self)}
        for name, given in changes.items():
            value = given
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {sorted(known)}")
            current = getattr(self, name)
            if isinstance(current, tuple) or name.endswith(("_keys", "_integrations")):
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of strings")
                value = tuple(value)
            elif (value is not None and not isinstance(value, int | float | str)) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number or null")
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
