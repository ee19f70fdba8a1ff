"""The pump, run by beat every tick: deferred -> ready -> Celery, and expired leases back."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from workers import keys
from workers.connections import Connection
from workers.dispatch import dispatch, promote_deferred, reap_expired
from workers.errors import ConfigError
from workers.redis_client import strs
from workers.store.lua import run_script
from workers.submit import Deps

__all__ = ["PumpStats", "pump"]

_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


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
            connection: Connection | None
            try:
                connection = deps.get_connection(name)
            except ConfigError:
                # Gone from the file (or the file is half-written): its batches still go out,
                # one at a time, and each counts the blip as an attempt until it clears or the
                # batch fails visibly. Left waiting, they would keep their run open for ever.
                connection = None
            stats.reaped += reap_expired(r, name)
            stats.dispatched += dispatch(r, name, connection, settings)
    finally:
        run_script(r, _RELEASE, [keys.PUMP_LOCK], [token])
    return stats
