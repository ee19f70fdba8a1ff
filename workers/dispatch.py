"""Handing batches to Celery, a few at a time per connection.

Producers do not put every batch on the broker at once. Each connection has a ready list in
Redis, and at most ``max_in_flight`` of its batches are on the broker or being worked on
(the *inflight* set, whose entries are leases). This keeps the broker queue short, interleaves
connections so one huge resync cannot starve a small run, caps concurrent requests per
connection fleet-wide, and lets a batch whose worker died be handed out again when its lease
expires. Batches that must wait longer than a moment (rate limit, backoff) go to the deferred
set instead of becoming long Celery ETAs (kombu #337, celery #9849).

Every move between these structures is one script using Redis' clock (``TIME``), so a crash
between two commands never strands a batch, and hosts with skewed clocks agree on leases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis

from workers import keys
from workers.config import Settings
from workers.connections import Connection
from workers.logs import log_event
from workers.redis_client import strs
from workers.store.lua import run_script
from workers.store.scripts import DEFER
from workers.timing import SubmitTiming, submit_timing

__all__ = [
    "SHORT_WAIT_S",
    "SUBMIT_TASK",
    "defer",
    "dispatch",
    "promote_deferred",
    "reap_expired",
    "timing",
]

log = logging.getLogger(__name__)

SUBMIT_TASK = "coursesync.submit_batch"
#: Waits up to this long ride on a Celery countdown (bounded: the batch holds an inflight slot);
#: longer ones go through the deferred set.
SHORT_WAIT_S = 5.0
#: Where batches whose connection is gone from the config are handed out: one at a time, so the
#: submit task counts the missing connection as an attempt (a config blip is transient).
_UNKNOWN_CONNECTION_CAP = 1

#: KEYS: ready, inflight, ready_connections, pause, learned_cap. ARGV: cap, lease_ms,
#: connection. A paused connection hands out nothing: its batches would only bounce.
_TAKE_READY = """
if redis.call('PTTL', KEYS[4]) > 0 then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local learned = tonumber(redis.call('GET', KEYS[5]) or '0')
if learned > 0 and learned < cap then cap = learned end
local room = cap - redis.call('ZCARD', KEYS[2])
local out = {}
while room > 0 do
  local id = redis.call('LPOP', KEYS[1])
  if not id then redis.call('SREM', KEYS[3], ARGV[3]) break end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
  out[#out + 1] = id
  room = room - 1
end
return out
"""

#: KEYS: source zset, ready list, ready_connections, batch. ARGV: batch_id, connection,
#: only_pending ('1'|'0'), due_only ('1'|'0'). Moves the batch from the source set to the front
#: of its ready list in one step: a crash (of Redis or of the pump) between the two would lose
#: it. With due_only, only if its score (a deadline or due time, Redis ms) has passed. Returns 1
#: if moved, 0 if another pump took it first (or it is not due, or no longer pending).
_REQUEUE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  if tonumber(score) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '1' and redis.call('HGET', KEYS[4], 'state') ~= 'pending' then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""

#: KEYS: zset. ARGV: limit. Members whose score (Redis ms) has passed, oldest first.
_DUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
"""

#: How tasks reach Celery: ``(task name, kwargs, options)``. Set by the Celery app's module
#: (``workers.celery_app``); tests install their own to catch what would be sent.
Sender = Callable[[str, dict[str, Any], dict[str, Any]], None]
_sender: list[Sender] = []


def set_sender(sender: Sender) -> None:
    """Install how tasks are sent (the Celery app does this when it is created)."""
    _sender[:] = [sender]


def send_task(name: str, kwargs: dict[str, Any], **options: Any) -> None:
    if not _sender:
        from workers import celery_app  # noqa: F401  (creating the app installs its sender)
    _sender[0](name, kwargs, options)


def timing(settings: Settings, connection: Connection | None) -> SubmitTiming:
    """The submit task's time limits, batch lock and lease for ``connection``'s provider."""
    requests = connection.spec.requests_per_submit if connection is not None else 6
    return submit_timing(
        provider_timeout_s=settings.provider_timeout_s,
        requests_per_submit=requests,
        min_lease_s=settings.batch_lease_s,
    )


def _send(batch_id: str, connection: str, limits: SubmitTiming, countdown_s: float | None = None) -> None:
    send_task(
        SUBMIT_TASK,
        {"batch_id": batch_id, "connection": connection},
        countdown=countdown_s,
        soft_time_limit=limits.soft_limit_s,
        time_limit=limits.hard_limit_s,
    )


def dispatch(r: redis.Redis, name: str, connection: Connection | None, settings: Settings) -> int:
    """Move ready batches of connection ``name`` onto the broker, up to its in-flight cap (the
    configured ``max_in_flight``, or less if the provider announced less). ``connection`` is
    None when the connection is gone from the config: its batches go one at a time, and the
    submit task counts the blip as an attempt."""
    limits = timing(settings, connection)
    cap = connection.max_in_flight if connection is not None else _UNKNOWN_CONNECTION_CAP
    bucket = connection.spec.submit_bucket if connection is not None else "requests"
    ids: Any = run_script(
        r,
        _TAKE_READY,
        [
            keys.ready(name),
            keys.inflight(name),
            keys.READY_CONNECTIONS,
            keys.pause(name, bucket),
            keys.learned_cap(name),
        ],
        [cap, int(limits.lease_s * 1000), name],
    )
    for batch_id in ids:
        # A crash between the script and here leaves the batch inflight with a lease; the pump
        # hands it out again when the lease expires, so nothing is lost.
        _send(str(batch_id), name, limits)
    return len(ids)


def defer(
    r: redis.Redis,
    name: str,
    batch_id: str,
    delay_s: float,
    *,
    connection: Connection | None,
    settings: Settings,
    answered: bool = False,
) -> bool:
    """Try the pending batch again after ``delay_s`` without blocking a worker meanwhile.

    ``answered``: the provider answered that it did not process the batch's request (a retry
    after a 503 or a 429), so the batch's sending mark is cleared. Returns False when the batch
    is no longer pending (nothing to try again)."""
    limits = timing(settings, connection)
    mode = "countdown" if delay_s <= SHORT_WAIT_S else "deferred"
    moved = run_script(
        r,
        DEFER,
        [keys.batch(batch_id), keys.inflight(name), keys.DEFERRED],
        [batch_id, int(delay_s * 1000), int(limits.lease_s * 1000), mode, "1" if answered else "0"],
    )
    if moved and mode == "countdown":
        _send(batch_id, name, limits, countdown_s=delay_s)
    return bool(moved)


def promote_deferred(r: redis.Redis, *, limit: int = 1000) -> set[str]:
    """Put deferred batches whose time has come back at the front of their ready lists."""
    due = strs(run_script(r, _DUE, [keys.DEFERRED], [limit]))
    touched: set[str] = set()
    for batch_id in due:
        connection = r.hget(keys.batch(batch_id), "connection")
        if connection is None:
            r.zrem(keys.DEFERRED, batch_id)  # the batch expired with its run
            continue
        if _requeue(r, keys.DEFERRED, str(connection), batch_id, only_pending=False):
            touched.add(str(connection))
    return touched


def _requeue(r: redis.Redis, source: str, connection: str, batch_id: str, *, only_pending: bool) -> bool:
    moved = run_script(
        r,
        _REQUEUE,
        [source, keys.ready(connection), keys.READY_CONNECTIONS, keys.batch(batch_id)],
        [batch_id, connection, "1" if only_pending else "0", "1"],
    )
    return bool(moved)


def reap_expired(r: redis.Redis, connection: str) -> int:
    """Hand out again the batches whose worker did not settle them within the lease."""
    expired = strs(run_script(r, _DUE, [keys.inflight(connection)], [1000]))
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
