"""Item status: what coursesync last knew of one item at one connection.

One compact entry per item (``keys.item_status``: bucketed hashes, a JSON list each), written by
whoever learns something of the item, in the pipeline or script it already runs (no extra round
trip per item): ``queued`` when a change is accepted, ``invalid`` when validation refuses it,
``unchanged`` when its digest says the provider already has it, ``succeeded``/``failed`` when its
outcome is recorded. Buckets expire with run records (their TTL is refreshed by each write).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from workers import keys, lua

__all__ = ["Hashes", "encode", "hset_many_args", "item_status", "queue_statuses", "status_hashes"]

#: (key, ttl_s or 0, field -> value) for ``hset_many.lua``.
Hashes = list[tuple[str, int, dict[Any, Any]]]

_FIELDS = ("state", "at", "run_id", "op", "remote_id", "code", "message")


def encode(
    state: str,
    *,
    at_ms: int | None = None,
    run_id: str = "",
    op: str = "",
    remote_id: str = "",
    code: str = "",
    message: str = "",
) -> bytes:
    """One stored entry; trailing empty values are dropped (most entries are a state, a time, a run)."""
    values: list[Any] = [state, at_ms if at_ms is not None else int(time.time() * 1000), run_id, op]
    values += [remote_id, code, message]
    while not values[-1]:
        values.pop()
    return orjson.dumps(values)


def status_hashes(
    connection: str,
    entries: Iterable[tuple[str, bytes]],
    retention_s: int,
    *,
    buckets: dict[str, int] | None = None,
) -> Hashes:
    """The bucket writes of ``(item_id, encode(...))`` pairs; ``buckets`` reuses buckets computed
    already (result recording computes them for digests)."""
    by_bucket: dict[int, dict[Any, Any]] = {}
    for item_id, value in entries:
        bucket = buckets[item_id] if buckets is not None else keys.item_bucket(item_id)
        by_bucket.setdefault(bucket, {})[item_id] = value
    return [(keys.item_status(connection, b), retention_s, m) for b, m in by_bucket.items()]


def hset_many_args(hashes: Hashes) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of one ``hset_many.lua`` call writing every hash."""
    args: list[Any] = []
    for _, ttl_s, mapping in hashes:
        args += (len(mapping), ttl_s)
        for pair in mapping.items():
            args.extend(pair)
    return [key for key, _, _ in hashes], args


def queue_statuses(
    client: Any, connection: str, entries: Iterable[tuple[str, bytes]], retention_s: int
) -> None:
    """Write statuses on ``client`` (a pipeline: they go with its other writes)."""
    hashes = status_hashes(connection, entries, retention_s)
    if hashes:
        lua.run(client, "hset_many", *hset_many_args(hashes))


def item_status(r: redis.Redis, connection_name: str, item_id: str) -> dict[str, Any] | None:
    """What coursesync last knew of ``item_id`` at ``connection_name``, or None if nothing.

    Returns ``{"item_id", "connection", "state", "at", "run_id", "remote_id", "code",
    "message", "op"}``; ``state`` is queued, invalid, unchanged, succeeded or failed; ``at`` is
    ISO 8601 UTC; ``op`` is upsert or deactivate where known; absent values are None.
    """
    raw = r.hget(keys.item_status(connection_name, keys.item_bucket(item_id)), item_id)
    if raw is None:
        return None
    values = dict(zip(_FIELDS, orjson.loads(raw), strict=False))
    at = datetime.fromtimestamp(values["at"] / 1000, UTC).isoformat(timespec="milliseconds")
    return {
        "item_id": item_id,
        "connection": connection_name,
        "state": values["state"],
        "at": at.replace("+00:00", "Z"),
        **{name: values.get(name) or None for name in ("run_id", "remote_id", "code", "message", "op")},
    }
