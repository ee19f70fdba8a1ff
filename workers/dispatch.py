"""Handing batches to Celery, a few at a time per connection, and the pump beat runs every tick.

Each connection has a ready list (``workers.ledger.queue``); at most its cap of batches are on
the broker or being worked on at once. That keeps the broker queue short, interleaves
connections so one huge resync cannot starve a small run, and caps concurrent requests per
connection fleet-wide. The cap is the connection's ``max_in_flight``, lowered by what the
provider announced and zero while the provider asked us to pause (``workers.ratelimit``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import redis

from workers import keys
from workers.config import Settings
from workers.connections import Connection
from workers.errors import ConfigError
from workers.ledger import queue
from workers.locks import lock
from workers.logs import log_event
from workers.ports import SUBMIT_BATCH, Send
from workers.ratelimit import Limits
from workers.redis_client import strs
from workers.timing import SubmitTiming, submit_timing

__all__ = ["SHORT_WAIT_S", "PumpStats", "defer", "dispatch", "pump", "timing"]

log = logging.getLogger(__name__)

#: Waits up to this long ride on a Celery countdown (bounded: the batch holds an inflight slot);
#: longer ones go through the deferred set.
SHORT_WAIT_S = 5.0
#: Where batches whose connection is gone from the config are handed out: one at a time, so the
#: submit task counts the missing connection as an attempt (a config blip is transient).
_UNKNOWN_CONNECTION_CAP = 1


def timing(settings: Settings, connection: Connection | None) -> SubmitTiming:
    """The submit task's time limits, batch lock and lease for ``connection``'s provider."""
    requests = connection.spec.requests_per_submit if connection is not None else 6
    return submit_timing(
        provider_timeout_s=settings.provider_timeout_s,
        requests_per_submit=requests,
        min_lease_s=settings.batch_lease_s,
    )


def _send(
    send: Send, batch_id: str, connection: str, limits: SubmitTiming, countdown_s: float | None
) -> None:
    options = {"soft_time_limit": limits.soft_limit_s, "time_limit": limits.hard_limit_s}
    if countdown_s is not None:
        options["countdown"] = countdown_s
    send(SUBMIT_BATCH, {"batch_id": batch_id, "connection": connection}, options)


def dispatch(r: redis.Redis, name: str, connection: Connection | None, settings: Settings, send: Send) -> int:
    """Move ready batches of connection ``name`` onto the broker, up to its cap. ``connection``
    is None when it is gone from the config: its batches go one at a time, and the submit task
    counts the blip as an attempt."""
    limits = timing(settings, connection)
    cap = Limits.on(r).dispatch_cap(connection) if connection is not None else _UNKNOWN_CONNECTION_CAP
    ids = queue.take_ready(r, name, cap=cap, lease_s=limits.lease_s)
    for batch_id in ids:
        # A crash between the script and here leaves the batch inflight with a lease; the pump
        # hands it out again when the lease expires, so nothing is lost.
        _send(send, batch_id, name, limits, None)
    return len(ids)


def defer(
    r: redis.Redis,
    name: str,
    batch_id: str,
    delay_s: float,
    *,
    connection: Connection | None,
    settings: Settings,
    send: Send,
    answered: bool = False,
) -> bool:
    """Try the pending batch again after ``delay_s`` without blocking a worker meanwhile.

    ``answered``: the provider answered that it did not process the batch's request (a retry
    after a 503 or a 429), so the batch's sending mark is cleared. Returns False when the batch
    is no longer pending (nothing to try again)."""
    limits = timing(settings, connection)
    mode: Literal["countdown", "deferred"] = "countdown" if delay_s <= SHORT_WAIT_S else "deferred"
    moved = queue.defer(r, name, batch_id, delay_s, lease_s=limits.lease_s, mode=mode, answered=answered)
    if moved and mode == "countdown":
        _send(send, batch_id, name, limits, delay_s)
    return moved


@dataclass
class PumpStats:
    locked_out: bool = False
    promoted: int = 0
    reaped: int = 0
    dispatched: int = 0


def pump(
    r: redis.Redis,
    settings: Settings,
    connection_names: list[str],
    get_connection: Callable[[str], Connection],
    send: Send,
) -> PumpStats:
    """One pass over every connection: deferred batches due again and batches whose lease ran
    out go back to their ready lists, then each connection's batches go out up to its cap.
    Only one pump runs at a time, fleet-wide."""
    stats = PumpStats()
    with lock(r, keys.PUMP_LOCK, ttl_s=max(5.0, settings.tick_interval_s * 10)) as held:
        if not held:
            stats.locked_out = True
            return stats
        touched = queue.promote_deferred(r)
        stats.promoted = len(touched)
        waiting = set(strs(r.smembers(keys.READY_CONNECTIONS)))
        for name in sorted(set(connection_names) | waiting | touched):
            connection: Connection | None
            try:
                connection = get_connection(name)
            except ConfigError:
                # Gone from the file (or the file is half-written): its batches still go out,
                # one at a time, and each counts the blip as an attempt until it clears or the
                # batch fails visibly. Left waiting, they would keep their run open for ever.
                connection = None
            for batch_id in queue.reap_expired(r, name):
                log_event(log, logging.WARNING, "batch lease expired, handing it out again",
                          connection=name, batch=batch_id)  # fmt: skip
                stats.reaped += 1
            stats.dispatched += dispatch(r, name, connection, settings, send)
    return stats
