"""Handing batches to Celery, a few at a time per budget, and the pump beat runs every tick.

Each connection has ready lists (``workers.ledger.queue``); at most its cap of batches are on
the broker or being worked on at once. That keeps the broker queue short, interleaves
connections so one huge resync cannot starve a small run, and caps concurrent requests per
connection fleet-wide. The cap is the connection's ``max_in_flight``, lowered by what the
provider announced and zero while the provider asked us to pause (``workers.ratelimit``).

Connections that spend one provider budget (one API key, one company) are handed out together:
only as many batches as the budget can serve in the next few seconds are in flight for all of
them, and who goes next is decided by weighted fair queuing with priorities (``admit.lua``),
not by the order batches reached the broker. So a million-item resync of one customer and the
50-item runs of fifty others on the same key all progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import redis

from workers import keys
from workers.admission import flow_caps, group_target
from workers.config import Settings
from workers.connections import Connection
from workers.errors import ConfigError
from workers.ledger import queue
from workers.locks import lock
from workers.logs import log_event
from workers.ports import SUBMIT_BATCH, Send
from workers.ratelimit import Limits
from workers.ratelimit.budgets import budget_id, own_budget_id
from workers.redis_client import strs
from workers.timing import SubmitTiming, submit_timing

__all__ = ["SHORT_WAIT_S", "PumpStats", "defer", "dispatch", "dispatch_group", "pump", "timing"]

log = logging.getLogger(__name__)

#: Waits up to this long ride on a Celery countdown (bounded: the batch holds an inflight slot);
#: longer ones go through the deferred set.
SHORT_WAIT_S = 5.0
#: Where batches whose connection is gone from the config are handed out: one at a time, so the
#: submit task counts the missing connection as an attempt (a config blip is transient).
_UNKNOWN_CONNECTION_CAP = 1
#: Who spends which budget is kept this long after a connection last handed out a batch (a
#: worker reads it to serve the connection's peers fairly).
_MEMBERS_TTL_S = 86400


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


def dispatch(
    r: redis.Redis,
    name: str,
    connection: Connection | None,
    settings: Settings,
    send: Send,
    *,
    get_connection: Callable[[str], Connection] | None = None,
) -> int:
    """Move ready batches of connection ``name``, and of the connections sharing its budget
    (looked up with ``get_connection``), onto the broker. ``connection`` is None when it is gone
    from the config: its batches go one at a time, and the submit task counts the blip as an
    attempt."""
    if connection is None:
        return _dispatch_alone(r, name, settings, send)
    budget = budget_id(connection)
    group = {name: connection}
    pipe = r.pipeline(transaction=False)
    if budget != own_budget_id(name):
        # Known from its first batch on, not from the pump's next pass: a connection starting a
        # run must not fill the budget's queue alone before its peers learn of it.
        pipe.sadd(keys.budget_members(budget), name)
        pipe.expire(keys.budget_members(budget), _MEMBERS_TTL_S)
    pipe.smembers(keys.budget_members(budget))
    peers = strs(pipe.execute()[-1])
    if get_connection is not None:
        for peer in peers:
            if peer not in group:
                try:
                    group[peer] = get_connection(peer)
                except ConfigError:
                    continue  # gone from the config: the pump hands its batches out alone
    return dispatch_group(r, budget, [group[n] for n in sorted(group)], settings, send)


def dispatch_group(
    r: redis.Redis, budget: str, connections: list[Connection], settings: Settings, send: Send
) -> int:
    """Hand out ready batches of ``connections``, which all spend ``budget``, fairly."""
    limiter = Limits.on(r)
    caps = flow_caps(limiter, connections)
    flows = [queue.Flow(c.name, cap, c.weight) for c, cap in zip(connections, caps, strict=True)]
    limits = timing(settings, connections[0])
    handed = queue.admit(r, budget, flows, target=group_target(r, connections, flows), lease_s=limits.lease_s)
    for batch_id, owner in handed:
        # A crash between the script and here leaves the batch inflight with a lease; the pump
        # hands it out again when the lease expires, so nothing is lost.
        _send(send, batch_id, owner, limits, None)
    return len(handed)


def _dispatch_alone(r: redis.Redis, name: str, settings: Settings, send: Send) -> int:
    limits = timing(settings, None)
    flows = [queue.Flow(name, _UNKNOWN_CONNECTION_CAP, 1.0)]
    handed = queue.admit(
        r, own_budget_id(name), flows, target=_UNKNOWN_CONNECTION_CAP, lease_s=limits.lease_s
    )
    for batch_id, _ in handed:
        _send(send, batch_id, name, limits, None)
    return len(handed)


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
        groups: dict[str, list[Connection]] = {}
        for name in sorted(set(connection_names) | waiting | touched):
            for batch_id in queue.reap_expired(r, name):
                log_event(log, logging.WARNING, "batch lease expired, handing it out again",
                          connection=name, batch=batch_id)  # fmt: skip
                stats.reaped += 1
            try:
                connection = get_connection(name)
            except ConfigError:
                # Gone from the file (or the file is half-written): its batches still go out,
                # one at a time, and each counts the blip as an attempt until it clears or the
                # batch fails visibly. Left waiting, they would keep their run open for ever.
                stats.dispatched += _dispatch_alone(r, name, settings, send)
                continue
            groups.setdefault(budget_id(connection), []).append(connection)
        for budget, members in sorted(groups.items()):
            stats.dispatched += dispatch_group(r, budget, members, settings, send)
    return stats
