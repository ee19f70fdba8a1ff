"""Batches: a small hash of state plus a compressed payload (``payloads``), and their transitions.

States::

    pending --submit--> submitted --poll--> completed
     |  ^                   |
     |  +---- reopen -------+   (the remote job failed for a transient reason: send again)
     |                      |
     +----------------------+--> failed
     |
     +--split--> split      (refused as a whole for validation: two halves take its place)

``completed`` means the provider answered for every item (some may have failed); ``failed``
means the batch as a whole could not be delivered or its remote job failed; ``split`` means its
items live on in two smaller batches (``<id>.0`` and ``<id>.1``). Every transition is one
script of ``workers/lua`` that also moves the batch between the dispatch structures and counts
it in its run, so nothing is ever half done.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from workers import keys, lua
from workers.ledger.payloads import decode_items, encode_items
from workers.metrics.record import batch_wait_field
from workers.providers.base import ItemResult, OutboundItem

__all__ = [
    "Batch",
    "count_attempt",
    "count_poll",
    "create_batch",
    "load_batch",
    "load_blob",
    "load_items",
    "mark_sending",
    "mark_submitted",
    "reopen",
]


@dataclass(frozen=True)
class Batch:
    """A batch's hash, typed."""

    id: str
    run_id: str
    connection: str
    op: str
    size: int
    state: str
    attempts: int
    job_ref: str | None
    submitted_ms: int | None
    polls: int
    created_ms: int
    early: tuple[ItemResult, ...] = ()
    #: Set while a worker sends the batch: found set by the next attempt, it means a worker
    #: stopped mid-send and the provider may have received the batch.
    sending: str | None = None
    throttles: int = 0
    poll_errors: int = 0
    kind: str = "catalog"
    #: The batch this one was split from, at the top of the tree (None for an original batch).
    root: str | None = None
    depth: int = 0
    split_extra: int = 0
    #: The target (``workers.targets``) the producer diffed the items against: their digests
    #: and remote ids are recorded there. "" for a batch queued before targets existed, whose
    #: digests then land where nothing reads them (its items are simply sent again).
    target: str = ""
    #: When a poll last saw the job still running (Redis' clock, ms): with the poll that sees
    #: it end, it brackets the job's duration (``workers.ledger.durations``).
    pending_seen_ms: int | None = None

    @classmethod
    def from_hash(cls, batch_id: str, raw: dict[str, str]) -> Batch:
        return cls(
            id=batch_id,
            run_id=raw["run_id"],
            connection=raw["connection"],
            op=raw.get("op", "upsert"),
            size=int(raw.get("size", 0)),
            state=raw.get("state", "pending"),
            attempts=int(raw.get("attempts", 0)),
            job_ref=raw.get("job_ref") or None,
            submitted_ms=int(raw["submitted_ms"]) if raw.get("submitted_ms") else None,
            polls=int(raw.get("polls", 0)),
            created_ms=int(raw.get("created_ms", 0)),
            early=tuple(ItemResult(*row) for row in json.loads(raw["early"])) if raw.get("early") else (),
            sending=raw.get("sending") or None,
            throttles=int(raw.get("throttles", 0)),
            poll_errors=int(raw.get("poll_errors", 0)),
            kind=raw.get("kind", "catalog"),
            pending_seen_ms=int(raw["pending_seen_ms"]) if raw.get("pending_seen_ms") else None,
            root=raw.get("root") or None,
            depth=int(raw.get("depth", 0)),
            split_extra=int(raw.get("split_extra", 0)),
            target=raw.get("target", ""),
        )


def create_batch(
    r: redis.Redis,
    *,
    batch_id: str,
    run_id: str,
    connection: str,
    target: str,
    op: str,
    items: list[OutboundItem],
    retention_s: int,
    payload_ttl_s: int,
    kind: str = "catalog",
    priority: str = "normal",
) -> None:
    """Store the batch, its payload, its place in the connection's ready list and its count in
    the run, in one transaction: a crash or a full Redis never leaves a batch half made.

    ``kind`` is ``catalog`` (items of the catalog) or ``prune`` (deactivations of items the
    catalog no longer has), which the run counts apart. ``target`` is the run's target
    (``workers.targets``), which the items were diffed against.
    """
    fields: dict[Any, Any] = {
        "run_id": run_id,
        "connection": connection,
        "target": target,
        "op": op,
        "kind": kind,
        "size": len(items),
        "state": "pending",
        "attempts": 0,
        "created_ms": int(time.time() * 1000),
        "priority": priority,
    }
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.batch(batch_id), mapping=fields)
    pipe.expire(keys.batch(batch_id), retention_s)
    pipe.set(keys.batch_items(batch_id), encode_items(items), ex=payload_ttl_s)
    pipe.rpush(keys.run_batches(run_id), batch_id)
    pipe.expire(keys.run_batches(run_id), retention_s)
    pipe.rpush(keys.ready(connection, priority), batch_id)
    pipe.sadd(keys.READY_CONNECTIONS, connection)
    pipe.hincrby(keys.run(run_id), "b_total", 1)
    pipe.hincrby(keys.run(run_id), "b_pending", 1)
    if kind == "catalog":
        # Items put in a batch: what a run counted but never batched was lost with its producer.
        pipe.hincrby(keys.run(run_id), "c_batched", len(items))
    pipe.execute()


def load_batch(r: redis.Redis, batch_id: str) -> Batch | None:
    raw = r.hgetall(keys.batch(batch_id))
    return Batch.from_hash(batch_id, raw) if raw else None  # type: ignore[arg-type]


def load_items(raw_r: redis.Redis, batch_id: str) -> list[OutboundItem] | None:
    """The batch's items, or None if the payload expired or was already settled and dropped."""
    blob = load_blob(raw_r, batch_id)
    return decode_items(blob) if blob else None


def load_blob(raw_r: redis.Redis, batch_id: str) -> bytes | None:
    """The batch's encoded items (``workers.ledger.payloads``), or None like ``load_items``."""
    blob: bytes | None = raw_r.get(keys.batch_items(batch_id))  # type: ignore[assignment]
    return blob or None


def count_attempt(r: redis.Redis, batch_id: str, *, throttled: bool, reason: str) -> int:
    """One more failed attempt (or throttle) of sending the batch; returns how many so far."""
    pipe = r.pipeline(transaction=True)
    pipe.hincrby(keys.batch(batch_id), "throttles" if throttled else "attempts", 1)
    pipe.hset(keys.batch(batch_id), "last_error", reason)
    return int(pipe.execute()[0])


def count_poll(r: redis.Redis, batch: Batch, *, ok: bool) -> int:
    """A poll of the batch's job answered (``ok``: its errors start again) or failed; returns
    how many failed in a row."""
    if ok:
        r.hset(keys.batch(batch.id), mapping={"poll_errors": 0, "polls": batch.polls + 1})
        return 0
    return int(r.hincrby(keys.batch(batch.id), "poll_errors", 1))


def mark_sending(r: redis.Redis, batch: Batch, token: str) -> str:
    """Note that the batch's request is about to leave, if it still may (one atomic step with
    the checks, ``workers/lua/mark_sending.lua``). Returns ``ok`` (send it), ``gone`` (no
    longer pending), ``cancelled`` (its run was cancelled: it must not leave) or ``paused``
    (its connection is paused: it was put back at the front of its ready list).

    The first ``ok`` of a batch also counts how long it waited since the producer made it, in
    the connection's ``coursesync_batch_wait_seconds`` histogram (``workers.metrics.record``).
    """
    c = batch.connection
    # created_ms is the producer's host clock, so the end is read on a host clock too, as the
    # collector's oldest-batch age is; a clock behind the producer's reads as no wait, never < 0.
    wait_ms = max(0, int(time.time() * 1000) - batch.created_ms)
    wait_field = batch_wait_field(wait_ms / 1000) if batch.created_ms else ""
    return str(
        lua.run(
            r,
            "mark_sending",
            [
                keys.batch(batch.id),
                keys.run(batch.run_id),
                keys.PAUSED_CONNECTIONS,
                keys.inflight(c),
                keys.ready(c),
                keys.ready(c, "low"),
                keys.READY_CONNECTIONS,
                keys.conn_metrics(c),
                keys.METRICS_CONNECTIONS,
            ],
            [token, batch.id, c, wait_field, wait_ms],
        )
    )


def mark_submitted(
    r: redis.Redis,
    batch: Batch,
    job_ref: str,
    first_poll_s: float,
    early: list[ItemResult] | None = None,
) -> bool:
    """pending -> submitted with the remote job ref, leaving the in-flight set in the same step;
    False if another delivery did it first.

    ``early`` are item results the provider gave with the submission; they are merged with the
    job's results when it ends.
    """
    early_json = json.dumps([dataclasses.astuple(e) for e in early]) if early else ""
    done = lua.run(
        r,
        "mark_submitted",
        [keys.batch(batch.id), keys.run(batch.run_id), keys.JOBS_DUE, keys.inflight(batch.connection)],
        [job_ref, int(first_poll_s * 1000), batch.id, early_json],
    )
    return bool(done)


def reopen(r: redis.Redis, batch: Batch, *, delay_s: float, reason: str) -> bool:
    """submitted -> pending, to be sent again after ``delay_s`` (its remote job failed for a
    transient reason). Counts an attempt. False if the batch was not submitted."""
    done = lua.run(
        r,
        "reopen",
        [keys.batch(batch.id), keys.JOBS_DUE, keys.DEFERRED, keys.run(batch.run_id)],
        [batch.id, int(delay_s * 1000), reason],
    )
    return bool(done)
