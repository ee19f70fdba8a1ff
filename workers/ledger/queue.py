"""Where a pending batch waits: its connection's ready list, in flight, or deferred.

Producers do not put every batch on the broker at once. Each connection has a ready list, and
at most its cap of batches are on the broker or being worked on (the *inflight* set, whose
entries are leases on Redis' clock). A batch whose worker died is handed out again when its
lease ends; a batch that must wait longer than a moment goes to the deferred set instead of a
long Celery ETA (kombu #337, celery #9849). Every move is one script, so a crash between two
commands never strands a batch.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import redis

from workers import keys, lua
from workers.redis_client import strs

__all__ = ["LOW_PRIORITY_SHARE", "Flow", "admit", "defer", "promote_deferred", "reap_expired"]


class Flow(NamedTuple):
    """A connection waiting on a budget: its name, its own cap of batches in flight, its weight."""

    name: str
    cap: int
    weight: float


#: A scheduled resync's flow weighs this much of an ordinary run's: runs started by hand or by
#: an upstream system overtake a resync backlog, which still gets a share and never starves.
LOW_PRIORITY_SHARE = 0.2


def admit(
    r: redis.Redis, budget: str, flows: list[Flow], *, target: int, lease_s: float
) -> list[tuple[str, str]]:
    """Hand out ready batches of the connections spending ``budget`` until ``target`` of them
    are in flight, by weighted fair queuing (``workers/lua/admit.lua``): (batch id, its
    connection) for each. A paused connection (``keys.PAUSED_CONNECTIONS``) hands out none."""
    flow_keys = [
        k for f in flows for k in (keys.ready(f.name), keys.ready(f.name, "low"), keys.inflight(f.name))
    ]
    ids: Any = lua.run(
        r,
        "admit",
        [keys.passes(budget), keys.READY_CONNECTIONS, keys.PAUSED_CONNECTIONS, *flow_keys],
        [
            target,
            int(lease_s * 1000),
            LOW_PRIORITY_SHARE,
            *(v for f in flows for v in (f.name, f.cap, f.weight)),
        ],
    )
    handed = strs(ids)
    return list(zip(handed[0::2], handed[1::2], strict=True))


def defer(
    r: redis.Redis,
    connection: str,
    batch_id: str,
    delay_s: float,
    *,
    lease_s: float,
    mode: Literal["countdown", "deferred"],
    answered: bool,
) -> bool:
    """Let a pending batch wait ``delay_s``: in flight under a lease covering the wait
    (``countdown``: a Celery countdown brings it back) or in the deferred set. ``answered``
    clears its sending mark (see ``workers/lua/defer.lua``). False when no longer pending."""
    moved = lua.run(
        r,
        "defer",
        [keys.batch(batch_id), keys.inflight(connection), keys.DEFERRED],
        [batch_id, int(delay_s * 1000), int(lease_s * 1000), mode, "1" if answered else "0"],
    )
    return bool(moved)


def promote_deferred(r: redis.Redis, *, limit: int = 1000) -> set[str]:
    """Put deferred batches whose time has come back at the front of their ready lists.
    Returns the connections they belong to."""
    touched: set[str] = set()
    for batch_id in strs(lua.run(r, "due", [keys.DEFERRED], [limit])):
        connection = r.hget(keys.batch(batch_id), "connection")
        if connection is None:
            r.zrem(keys.DEFERRED, batch_id)  # the batch expired with its run
            continue
        if _requeue(r, keys.DEFERRED, str(connection), batch_id, only_pending=False):
            touched.add(str(connection))
    return touched


def reap_expired(r: redis.Redis, connection: str) -> list[str]:
    """Put back in the ready list the batches whose worker did not settle them within the lease
    (a batch no longer pending only leaves the set: its worker finished and died before)."""
    expired = strs(lua.run(r, "due", [keys.inflight(connection)], [1000]))
    return [b for b in expired if _requeue(r, keys.inflight(connection), connection, b, only_pending=True)]


def _requeue(r: redis.Redis, source: str, connection: str, batch_id: str, *, only_pending: bool) -> bool:
    moved = lua.run(
        r,
        "requeue",
        [
            source,
            keys.ready(connection),
            keys.READY_CONNECTIONS,
            keys.batch(batch_id),
            keys.ready(connection, "low"),
        ],
        [batch_id, connection, "1" if only_pending else "0"],
    )
    return bool(moved)
