"""The pump, run by beat every tick: deferred -> ready -> Celery, and expired leases back."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from workers import keys
from workers.dispatch import dispatch, promote_deferred, reap_expired
from workers.errors import ConfigError
from workers.redis_client import strs
from workers.submit import Deps

__all__ = ["PumpStats", "pump"]


@dataclass
class PumpStats:
    locked_out: bool = False
    promoted: int = 0
    reaped: int = 0
    dispatched: int = 0


def pump(deps: Deps, connection_names: list[str]) -> PumpStats:
    """One pass over every connection; only one pump runs at a time fleet-wide."""
    r, settings = deps.r, deps.settings
    stats = PumpStats()
    token = secrets.token_hex(8)
    if not r.set(keys.PUMP_LOCK, token, nx=True, px=int(max(5.0, settings.tick_interval_s * 10) * 1000)):
        stats.locked_out = True
        return stats
    try:
        touched = promote_deferred(r)
        stats.promoted = len(touched)
        waiting = set(strs(r.smembers(keys.READY_CONNECTIONS)))
        for name in sorted(set(connection_names) | waiting | touched):
            try:
                connection = deps.get_connection(name)
            except ConfigError:
                continue  # removed from the file; its batches wait until it is back
            stats.reaped += reap_expired(r, name)
            stats.dispatched += dispatch(r, connection, lease_s=settings.batch_lease_s)
    finally:
        if r.get(keys.PUMP_LOCK) == token:
            r.delete(keys.PUMP_LOCK)
    return stats
