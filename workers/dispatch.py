"""Handing batches to Celery, a few at a time per connection.

Producers do not put every batch on the broker at once. Each connection has a ready list in
Redis, and at most ``max_in_flight`` of its batches are on the broker or being worked on
(the *inflight* set, whose entries are leases). This keeps the broker queue short, interleaves
connections so one huge resync cannot starve a small run, caps concurrent requests per
connection fleet-wide, and lets a batch whose worker died be handed out again when its lease
expires. Batches that must wait longer than a moment (rate limit, backoff) go to the deferred
set instead of becoming long Celery ETAs (kombu #337, celery #9849).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

from workers import keys
from workers.connections import Connection
from workers.logs import log_event
from workers.redis_client import strs
from workers.store.lua import run_script

__all__ = [
    "SHORT_WAIT_S",
    "SUBMIT_TASK",
    "defer",
    "dispatch",
    "promote_deferred",
    "reap_expired",
    "settle_inflight",
]

log = logging.getLogger(__name__)

SUBMIT_TASK = "coursesync.submit_batch"
#: Waits up to this long ride on a Celery countdown (bounded: the batch holds an inflight slot);
#: longer ones go through the deferred set.
SHORT_WAIT_S = 5.0

#: KEYS: ready, inflight, ready_connections, pause, learned_cap. ARGV: cap, now_ms, lease_ms,
#: connection. A paused connection hands out nothing: its batches would only bounce.
_TAKE_READY = """
if redis.call('PTTL', KEYS[4]) > 0 then return {} end
local cap = tonumber(ARGV[1])
local learned = tonumber(redis.call('GET', KEYS[5]) or '0')
if learned > 0 and learned < cap then cap = learned end
local room = cap - redis.call('ZCARD', KEYS[2])
local out = {}
while room > 0 do
  local id = redis.call('LPOP', KEYS[1])
  if not id then redis.call('SREM', KEYS[3], ARGV[4]) break end
  redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + tonumber(ARGV[3]), id)
  out[#out + 1] = id
  room = room - 1
end
return out
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _send(batch_id: str, connection: str, countdown_s: float | None = None) -> None:
    from workers.celery_app import app

    app.send_task(
        SUBMIT_TASK,
        kwargs={"batch_id": batch_id, "connection": connection},
        countdown=countdown_s,
    )


def dispatch(r: redis.Redis, connection: Connection, *, lease_s: float) -> int:
    """Move ready batches of ``connection`` onto the broker, up to its in-flight cap (the
    configured ``max_in_flight``, or less if the provider announced less)."""
    name = connection.name
    ids: Any = run_script(
        r,
        _TAKE_READY,
        [
            keys.ready(name),
            keys.inflight(name),
            keys.READY_CONNECTIONS,
            keys.pause(name, connection.spec.submit_bucket),
            keys.learned_cap(name),
        ],
        [connection.max_in_flight, _now_ms(), int(lease_s * 1000), name],
    )
    for batch_id in ids:
        # A crash between the script and here leaves the batch inflight with a lease; the pump
        # hands it out again when the lease expires, so nothing is lost.
        _send(str(batch_id), name)
    return len(ids)


def settle_inflight(r: redis.Redis, connection: str, batch_id: str) -> None:
    """The batch no longer needs its slot (submitted, settled or deferred)."""
    r.zrem(keys.inflight(connection), batch_id)


def defer(r: redis.Redis, connection: str, batch_id: str, delay_s: float, *, lease_s: float) -> None:
    """Try the batch again after ``delay_s`` without blocking a worker meanwhile."""
    if delay_s <= SHORT_WAIT_S:
        r.zadd(keys.inflight(connection), {batch_id: _now_ms() + int((delay_s + lease_s) * 1000)})
        _send(batch_id, connection, countdown_s=delay_s)
        return
    pipe = r.pipeline()
    pipe.zadd(keys.DEFERRED, {batch_id: _now_ms() + int(delay_s * 1000)})
    pipe.zrem(keys.inflight(connection), batch_id)
    pipe.execute()


def promote_deferred(r: redis.Redis, *, limit: int = 1000) -> set[str]:
    """Put deferred batches whose time has come back at the front of their ready lists."""
    due = strs(r.zrangebyscore(keys.DEFERRED, "-inf", _now_ms(), start=0, num=limit))
    touched: set[str] = set()
    for batch_id in due:
        connection = r.hget(keys.batch(batch_id), "connection")
        if connection is None:
            r.zrem(keys.DEFERRED, batch_id)  # the batch expired with its run
            continue
        if _requeue(r, keys.DEFERRED, str(connection), batch_id, only_pending=False):
            touched.add(str(connection))
    return touched


#: KEYS: source zset, ready list, ready_connections, batch. ARGV: batch_id, connection,
#: only_pending ('1'|'0'). Moves the batch from the source set to the front of its ready list
#: in one step: a crash (of Redis or of the pump) between the two would lose it. Returns 1 if
#: moved, 0 if another pump took it first (or, with only_pending, it is no longer pending).
_REQUEUE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[3] == '1' and redis.call('HGET', KEYS[4], 'state') ~= 'pending' then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""


def _requeue(r: redis.Redis, source: str, connection: str, batch_id: str, *, only_pending: bool) -> bool:
    moved = run_script(
        r,
        _REQUEUE,
        [source, keys.ready(connection), keys.READY_CONNECTIONS, keys.batch(batch_id)],
        [batch_id, connection, "1" if only_pending else "0"],
    )
    return bool(moved)


def reap_expired(r: redis.Redis, connection: str) -> int:
    """Hand out again the batches whose worker did not settle them within the lease."""
    expired = strs(r.zrangebyscore(keys.inflight(connection), "-inf", _now_ms()))
    count = 0
    for batch_id in expired:
        # Not moved when no longer pending: its worker finished and died before freeing the slot.
        if not _requeue(r, keys.inflight(connection), connection, batch_id, only_pending=True):
            continue
        log_event(
            log,
            logging.WARNING,
            "batch lease expired, handing it out again",
            connection=connection,
            batch=batch_id,
        )
        count += 1
    return count
