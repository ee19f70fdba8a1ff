"""Recording what became of each item of a batch, exactly once.

Error records and items kept for ``coursesync retry`` are plain overwrites, safe to repeat,
written before the batch settles. The counting, and what the outcome taught (content digests
and remote ids of confirmed items, every item's status), happen in one atomic script that does
nothing the second time: a poll result processed twice changes nothing, and a run that reads as
ended already holds every digest its batches earned.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson
import redis

from workers import keys
from workers.config import Settings
from workers.crashpoints import crash_point
from workers.ledger.batch_ends import settle_batch
from workers.ledger.batches import Batch, load_blob, load_items
from workers.ledger.ending import run_finished
from workers.ledger.item_status import Hashes, encode, status_hashes
from workers.ledger.payloads import decode_heads, decode_items
from workers.ledger.reasons import chart_settled
from workers.logs import batch_event
from workers.providers.base import ItemResult, OutboundItem

__all__ = ["NO_RESULT", "fail_batch", "merge_results", "record_results"]

log = logging.getLogger(__name__)

#: Used when a provider's answer leaves an item out: the item fails visibly, never vanishes.
NO_RESULT = ItemResult(
    "",
    ok=False,
    code="coursesync.NO_RESULT",
    message="the provider reported no result for this item",
)


def _error(item_id: str, code: str | None, message: str | None) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "stage": "provider",
        "code": code or "UNKNOWN",
        "message": message or "",
    }


def merge_results(results: Iterable[ItemResult]) -> dict[str, ItemResult]:
    """One verdict per item id. An item the provider reported more than once succeeded only if
    every report says so: a success beside a failure proves nothing, so the failure stands."""
    merged: dict[str, ItemResult] = {}
    for res in results:
        seen = merged.get(res.item_id)
        if seen is None or (seen.ok and not res.ok):
            merged[res.item_id] = res
    return merged


def record_results(
    r: redis.Redis,
    raw_r: redis.Redis,
    batch: Batch,
    results: Iterable[ItemResult],
    settings: Settings,
) -> str | None:
    """Record per-item outcomes of a finished remote job; returns what ``settle_batch`` did.

    An item of the batch succeeds only when a result for that very item says so; an item the
    answer leaves out fails with ``coursesync.NO_RESULT``; results for ids outside the batch are
    ignored.
    """
    blob = load_blob(raw_r, batch.id)
    if blob is None:
        return _payload_lost(r, batch, settings)
    by_id = merge_results((*batch.early, *results))
    heads = decode_heads(blob)
    found = [by_id.get(item_id, NO_RESULT) for item_id, _ in heads]
    if all(res.ok for res in found):
        # The usual case: no item is kept for a retry, so its payload is never parsed.
        items = [OutboundItem(item_id, digest, {}) for item_id, digest in heads]
    else:
        items = decode_items(blob)
    return _record(r, batch, list(zip(items, found, strict=True)), settings, state="completed")


def fail_batch(
    r: redis.Redis, raw_r: redis.Redis, batch: Batch, *, code: str, message: str, settings: Settings
) -> str | None:
    """Every item of the batch failed for one reason (permanent error, retries used up...)."""
    items = load_items(raw_r, batch.id)
    if items is None:
        return _payload_lost(r, batch, settings)
    failure = ItemResult("", ok=False, code=code, message=message)
    return _record(r, batch, [(item, failure) for item in items], settings, state="failed")


def _record(
    r: redis.Redis,
    batch: Batch,
    outcomes: list[tuple[OutboundItem, ItemResult]],
    settings: Settings,
    *,
    state: str,
) -> str | None:
    errors: list[dict[str, Any]] = []
    # dict[Any, Any]: redis-py's hset() wants an invariant key type no plain dict[str, str] has.
    item_errors: dict[Any, Any] = {}
    retry_items: dict[Any, Any] = {}
    for item, res in outcomes:
        if not res.ok:
            err = _error(item.id, res.code, res.message)
            errors.append(err)
            item_errors[item.id] = json.dumps([err])
            retry_items[item.id] = json.dumps([item.id, item.digest, item.payload, batch.op])
    if item_errors:
        # Before the batch settles: once the run has ended, its failures must all be readable.
        pipe = r.pipeline(transaction=False)
        pipe.hset(keys.run_item_errors(batch.run_id), mapping=item_errors)
        pipe.expire(keys.run_item_errors(batch.run_id), settings.run_retention_s)
        pipe.hset(keys.run_retry_items(batch.run_id), mapping=retry_items)
        pipe.expire(keys.run_retry_items(batch.run_id), settings.run_retention_s)
        pipe.execute()
    n_failed = len(item_errors)
    result = settle_batch(
        r,
        batch,
        state=state,
        n_ok=len(outcomes) - n_failed,
        n_failed=n_failed,
        errors=errors,
        retention_s=settings.run_retention_s,
        # Digests, remote ids and statuses go in the settling step itself: a digest says "the
        # provider has this exact item" and stops the next sync from sending it, so it is
        # written only by the call that counts the outcome, and before the run can read as
        # ended (a sync started the moment it ends diffs against them).
        **_learned(batch, outcomes, settings),
    )
    if result is None:
        return None  # settled before: a duplicate delivery or a poll answer processed twice
    crash_point("record.after_settle")
    chart_settled(
        r, batch.run_id, errors, succeeded=len(outcomes) - n_failed, retention_s=settings.run_retention_s
    )
    # duration_ms: the batch's whole life, from the producer to its last item's outcome.
    life_ms = max(0, int(time.time() * 1000) - batch.created_ms)
    batch_event(
        log,
        logging.INFO,
        "batch settled",
        batch,
        state=state,
        succeeded=len(outcomes) - n_failed,
        failed=n_failed,
        duration_ms=life_ms,
    )
    if result != "open":
        run_finished(r, batch.run_id, result, settings)
    return result


def _learned(
    batch: Batch, outcomes: list[tuple[OutboundItem, ItemResult]], settings: Settings
) -> dict[str, Any]:
    """Content digests (and the provider's own ids) of the items the provider confirmed, and
    every item's status: ``settle_batch``'s ``digests`` and ``learned``."""
    digests: dict[int, dict[Any, Any]] = {}
    remote: dict[int, dict[Any, Any]] = {}
    buckets: dict[str, int] = {}
    statuses: list[tuple[str, bytes]] = []
    at_ms, run_id, op = int(time.time() * 1000), batch.run_id, batch.op
    # Every success of the batch shares all but its remote id: encoded once (this runs per item).
    succeeded = encode("succeeded", at_ms=at_ms, run_id=run_id, op=op)
    with_remote = succeeded[:-1] + b","
    for item, res in outcomes:
        bucket = buckets[item.id] = keys.item_bucket(item.id)
        if res.ok:
            digests.setdefault(bucket, {})[item.id] = item.digest
            if res.remote_id:
                remote.setdefault(bucket, {})[item.id] = res.remote_id
            value = with_remote + orjson.dumps(res.remote_id) + b"]" if res.remote_id else succeeded
        else:
            value = encode(
                "failed",
                at_ms=at_ms,
                run_id=run_id,
                op=op,
                code=res.code or "UNKNOWN",
                message=res.message or "",
            )
        statuses.append((item.id, value))
    hashes: Hashes = [(keys.remote_ids(batch.target, b), 0, m) for b, m in remote.items()]
    hashes += status_hashes(batch.connection, statuses, settings.run_retention_s, buckets=buckets)
    return {"digests": digests, "learned": hashes}


def _payload_lost(r: redis.Redis, batch: Batch, settings: Settings) -> str | None:
    # The payload is gone: either this batch was settled already (a duplicate delivery, and
    # settle_batch will say so) or it expired before delivery. Either way count it, never drop it.
    message = "the batch payload expired before the provider confirmed it; run `coursesync retry`"
    err = _error(f"(batch {batch.id})", "coursesync.PAYLOAD_EXPIRED", message)
    result = settle_batch(
        r,
        batch,
        state="failed",
        n_ok=0,
        n_failed=batch.size,
        errors=[err],
        retention_s=settings.run_retention_s,
    )
    if result is not None:
        chart_settled(
            r, batch.run_id, [err], succeeded=0, retention_s=settings.run_retention_s, times=batch.size
        )
    if result is not None and result != "open":
        run_finished(r, batch.run_id, result, settings)
    return result
