"""Single-item changes from upstream systems, coalesced per connection into bulk runs.

Upstreams send "upsert this course" and "delete that id", one or a few at a time, perhaps 100
a second. Each call validates its changes at once (the catalog's validation; invalid ones come
back in the receipt) and adds the valid ones to the connection's waiting changes
(``keys.changes``: last write per item wins). The first change of a window schedules a flush
one window later (``changes_window_s``); a batch size of waiting changes is flushed at once.
A flush takes every waiting change in one atomic step and starts one run for them, so a stream
of one-item changes costs bulk requests, not one request each.

Nothing is lost: taken changes stay in Redis until their run's batches are enqueued (a flush
that dies leaves them to the next one, which sends them again: at least once), a lost flush
task is replaced by the next change (the schedule flag expires) or by beat's sweep, which
flushes the connections whose changes waited ``STALE_WINDOWS`` windows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from producers.prepare import Prepared, prepare
from producers.readers import Record
from producers.run_starts import start_changes_run
from workers import keys, ledger, lua, ports
from workers.config import Settings, get_settings
from workers.errors import RequestTooLarge
from workers.locks import lock
from workers.ports import FLUSH_CHANGES, Send
from workers.providers.installed import get_mapper
from workers.providers.registry import get_connection

__all__ = [
    "MAX_CHANGES_PER_CALL",
    "STALE_WINDOWS",
    "ChangeReceipt",
    "flush_changes",
    "submit_changes",
    "sweep_changes",
]

log = logging.getLogger(__name__)

#: Upserts + deletes one call may carry: a call is answered while the caller waits.
MAX_CHANGES_PER_CALL = 1000
#: Changes that waited this many windows are flushed by beat's sweep (their flush was lost).
STALE_WINDOWS = 5
#: The schedule flag lives this many windows: a flush task lost on the way is replaced by the
#: next change after that, while a merely late one rarely gets a twin (a twin is harmless).
_SCHEDULED_WINDOWS = 3
#: A flush holds the connection's lock at most this long; the next one finds what it left.
_FLUSH_LOCK_S = 120.0
_UPSERT, _DELETE = "U", "D"


@dataclass(frozen=True)
class ChangeReceipt:
    """What a call to ``submit_changes`` did: ``accepted`` changes wait for the next flush, at
    most ``window_s`` seconds away; each ``invalid`` one is ``{"item_id", "field", "code",
    "message"}`` and was not accepted."""

    accepted: int
    invalid: list[dict[str, Any]] = field(default_factory=list)
    window_s: float = 0.0


def submit_changes(
    r: redis.Redis,
    connection_name: str,
    *,
    upserts: list[dict[str, Any]],
    deletes: list[str],
    settings: Settings | None = None,
    send: Send | None = None,
) -> ChangeReceipt:
    """Accept item changes for ``connection_name``; they are sent within one window.

    ``upserts`` are catalog items (``schemas.course``), ``deletes`` item ids to deactivate. In
    one call deletes come after upserts (a delete of an id upserted in the same call wins);
    across calls the later change of an item replaces the earlier one. ``send`` puts the flush
    task on the broker (default: the installed one, ``workers.ports``).

    Raises:
        ConfigError: unknown connection (named).
        RequestTooLarge: more than ``MAX_CHANGES_PER_CALL`` changes; nothing was accepted.
    """
    settings = settings or get_settings()
    conn = get_connection(connection_name)
    if len(upserts) + len(deletes) > MAX_CHANGES_PER_CALL:
        raise RequestTooLarge(
            f"{len(upserts) + len(deletes):,} changes in one call; at most {MAX_CHANGES_PER_CALL:,} "
            "(upserts and deletes together): split them"
        )
    mapper = get_mapper(conn.provider)
    pending: dict[str, str] = {}
    invalid: list[dict[str, Any]] = []
    for n, item in enumerate(upserts, start=1):
        prepared = prepare(Record(n, item), mapper, conn.options)
        if isinstance(prepared, Prepared):
            pending[prepared.item.id] = _UPSERT + orjson.dumps(item).decode()
        else:
            invalid += [
                {"item_id": e.item_id, "field": e.field, "code": "invalid", "message": e.message}
                for e in prepared
            ]
    for item_id in deletes:
        problem = _delete_problem(item_id, conn.provider, mapper.to_prune is not None)
        if problem:
            invalid.append({"item_id": item_id, **problem})
        else:
            pending[item_id] = _DELETE
    _store(r, conn.name, pending, invalid, settings=settings, batch_size=conn.batch_size, send=send)
    return ChangeReceipt(accepted=len(pending), invalid=invalid, window_s=settings.changes_window_s)


def _delete_problem(item_id: Any, provider: str, can_deactivate: bool) -> dict[str, str] | None:
    if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > 255:
        return {"field": "id", "code": "invalid", "message": "an item id is a string of 1-255 characters"}
    if not can_deactivate:
        why = f"{provider} has no documented way to deactivate content, so this delete cannot be carried out"
        return {"field": "(delete)", "code": "coursesync.CANNOT_DEACTIVATE", "message": why}
    return None


def _store(
    r: redis.Redis,
    name: str,
    pending: dict[str, str],
    invalid: list[dict[str, Any]],
    *,
    settings: Settings,
    batch_size: int,
    send: Send | None,
) -> None:
    window_s = settings.changes_window_s
    statuses = [
        (item_id, ledger.encode_status("queued", op="deactivate" if change == _DELETE else "upsert"))
        for item_id, change in pending.items()
    ]
    statuses += [
        (
            e["item_id"],
            ledger.encode_status("invalid", code=e["code"], message=f"{e['field']}: {e['message']}"),
        )
        for e in invalid
        if isinstance(e["item_id"], str) and not e["item_id"].startswith("(line ")
    ]
    pipe = r.pipeline(transaction=False)
    ledger.queue_statuses(pipe, name, statuses, settings.run_retention_s)
    if pending:
        pipe.hset(keys.changes(name), mapping=pending)  # type: ignore[arg-type]
        pipe.zadd(keys.CHANGES_WAITING, {name: int(time.time() * 1000)}, nx=True)
        scheduled_ms = max(1000, int(window_s * 1000 * _SCHEDULED_WINDOWS))
        pipe.set(keys.changes_scheduled(name), "1", nx=True, px=scheduled_ms)
        pipe.hlen(keys.changes(name))
    results = pipe.execute()
    if not pending:
        return
    send = send or ports.installed()
    scheduled_now, waiting = results[-2], int(results[-1])
    if scheduled_now:
        send(FLUSH_CHANGES, {"connection": name}, {"countdown": window_s})
    # A full batch waiting: no reason to wait out the window (once per window).
    if waiting >= batch_size and r.set(
        keys.changes_urgent(name), "1", nx=True, px=max(1, int(window_s * 1000))
    ):
        send(FLUSH_CHANGES, {"connection": name}, {})


def flush_changes(r: redis.Redis, connection_name: str, settings: Settings, send: Send) -> str | None:
    """Start one run of the connection's waiting changes; returns its id (None: none waited).

    Takes every waiting change in one atomic step (changes submitted meanwhile go to the next
    window), and forgets them only once their run's batches are enqueued; changes an earlier
    flush took and never enqueued (it died) go in this run. While another flush of the
    connection runs, this one comes back a window later.

    Raises:
        ConfigError: unknown connection; its changes stay waiting.
    """
    conn = get_connection(connection_name)
    name = conn.name
    with lock(r, keys.changes_lock(name), ttl_s=_FLUSH_LOCK_S) as held:
        if not held:
            send(FLUSH_CHANGES, {"connection": name}, {"countdown": settings.changes_window_s})
            return None
        taken_ms = int(time.time() * 1000)
        flat = lua.run(
            r,
            "take_changes",
            [keys.changes(name), keys.changes_taken(name), keys.changes_scheduled(name)],
            [],
        )
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        for item_id, change in zip(flat[::2], flat[1::2], strict=True):
            text = change.decode() if isinstance(change, bytes) else change
            if text == _DELETE:
                deletes.append(item_id.decode() if isinstance(item_id, bytes) else item_id)
            else:
                upserts.append(orjson.loads(text[1:]))
        run_id = None
        if upserts or deletes:
            run_id = start_changes_run(name, upserts, deletes, r=r, settings=settings, send=send)
            log.info(
                "changes flushed connection=%r run=%r upserts=%d deletes=%d",
                name,
                run_id,
                len(upserts),
                len(deletes),
            )
        finish_keys = [keys.changes_taken(name), keys.changes(name), keys.CHANGES_WAITING]
        lua.run(r, "finish_changes", finish_keys, [name, taken_ms])
        return run_id


def sweep_changes(r: redis.Redis, settings: Settings, send: Send) -> list[str]:
    """Send a flush for every connection whose changes waited ``STALE_WINDOWS`` windows (its
    flush task was lost, or its flusher died); returns their names. Beat runs it."""
    stale_ms = int(time.time() * 1000 - STALE_WINDOWS * settings.changes_window_s * 1000)
    names = [
        n.decode() if isinstance(n, bytes) else str(n)
        for n in r.zrangebyscore(keys.CHANGES_WAITING, "-inf", stale_ms)
    ]
    for name in names:
        log.warning("changes waited too long, flushing connection=%r", name)
        send(FLUSH_CHANGES, {"connection": name}, {})
    return names
