"""How a batch ends: settled (its outcome counted once, with what it taught) or split in two.

Both are one script of ``workers/lua`` each, which takes the batch out of every dispatch
structure and counts it in its run in the same step (``batches`` has the states).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from workers import keys, lua
from workers.ledger.batches import Batch
from workers.ledger.fingerprints import digest_section
from workers.ledger.item_status import Hashes, hset_many_args
from workers.ledger.payloads import encode_items
from workers.ledger.runs import ERRORS_MAX, now_iso, run_keys
from workers.providers.base import OutboundItem

__all__ = ["settle_batch", "split_batch", "split_extra"]


def split_batch(
    r: redis.Redis,
    batch: Batch,
    halves: tuple[list[OutboundItem], list[OutboundItem]],
    *,
    retention_s: int,
    payload_ttl_s: int,
    reason: str,
) -> tuple[str, str] | None:
    """Replace the pending ``batch`` by two batches of ``halves`` at the front of its ready list.

    Returns the two new batch ids, or None if the batch was no longer pending."""
    ids = (f"{batch.id}.0", f"{batch.id}.1")
    root = batch.root or batch.id
    done = lua.run(
        r,
        "split_batch",
        [
            keys.batch(batch.id),
            keys.inflight(batch.connection),
            keys.ready(batch.connection),
            keys.READY_CONNECTIONS,
            keys.run(batch.run_id),
            keys.run_batches(batch.run_id),
            keys.batch_items(batch.id),
            keys.batch(root),
            keys.batch(ids[0]),
            keys.batch_items(ids[0]),
            keys.batch(ids[1]),
            keys.batch_items(ids[1]),
            keys.ready(batch.connection, "low"),
        ],
        [
            batch.id,
            batch.connection,
            *ids,
            len(halves[0]),
            len(halves[1]),
            encode_items(halves[0]),
            encode_items(halves[1]),
            payload_ttl_s,
            retention_s,
            reason,
        ],
    )
    return ids if done else None


def split_extra(r: redis.Redis, batch: Batch) -> int:
    """Extra requests the tree ``batch`` belongs to has cost in splits so far."""
    return int(r.hget(keys.batch(batch.root or batch.id), "split_extra") or 0)


def settle_batch(
    r: redis.Redis,
    batch: Batch,
    *,
    state: str,
    n_ok: int,
    n_failed: int,
    errors: list[dict[str, Any]],
    retention_s: int,
    digests: dict[int, dict[Any, Any]] | None = None,
    learned: Hashes | None = None,
) -> str | None:
    """Count the batch's outcome once, taking it out of every dispatch structure in the same
    step, and write what it taught in that step too, only if this call settled it: ``digests``
    (bucket -> item id -> content digest, under ``batch.target``, with the buckets'
    fingerprints) and ``learned`` (other hashes: remote ids, item statuses). Returns None if
    already settled, 'open' if the run goes on, or the run's final state when this batch ended
    it."""
    shown = [json.dumps(e) for e in errors[:ERRORS_MAX]]
    digest_keys, digest_args = digest_section(batch.target, digests or {})
    hash_keys, hash_args = hset_many_args(learned or [])
    result = lua.run(
        r,
        "settle_batch",
        [
            keys.batch(batch.id),
            keys.JOBS_DUE,
            keys.inflight(batch.connection),
            keys.batch_items(batch.id),
            *run_keys(batch.run_id, batch.connection),
            *digest_keys,
            *hash_keys,
        ],
        [
            state,
            n_ok,
            n_failed,
            now_iso(),
            batch.id,
            retention_s,
            ERRORS_MAX,
            len(shown),
            len(digest_keys) - 2 if digest_keys else 0,
            *shown,
            *digest_args,
            *hash_args,
        ],
    )
    return str(result) if result else None
