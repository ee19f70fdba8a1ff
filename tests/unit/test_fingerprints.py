"""Bucket fingerprints: Redis (Lua, in the settle step) and Python compute the same values."""

from __future__ import annotations

import redis

from tests.unit.test_run_state import make_run
from workers import keys
from workers.config import Settings
from workers.ledger import load_batch, load_items, outcomes
from workers.ledger.fingerprints import (
    EMPTY,
    fingerprint,
    fingerprint_hex,
    load_fingerprints,
    load_sub_fingerprints,
    sub_of,
)
from workers.providers.base import ItemResult


def expected(pairs: dict[str, str]) -> dict[int, str]:
    by_bucket: dict[int, int] = {}
    for item_id, digest in pairs.items():
        b = keys.item_bucket(item_id)
        by_bucket[b] = by_bucket.get(b, 0) ^ fingerprint(item_id, digest)
    return {b: fingerprint_hex(v) for b, v in by_bucket.items()}


def settle_all(r: redis.Redis, raw_r: redis.Redis, run_id: str, n: int) -> None:
    for b in range(n):
        batch = load_batch(r, f"{run_id}-{b:05d}")
        assert batch is not None
        found = [ItemResult(i.id, ok=True) for i in load_items(raw_r, batch.id)]
        outcomes.record_results(r, raw_r, batch, found, Settings())


def test_the_settle_step_keeps_fingerprints_equal_to_pythons(r: redis.Redis, raw_r: redis.Redis) -> None:
    run_id = make_run(r, 3, size=50)
    settle_all(r, raw_r, run_id, 3)
    held = {f"{b}-{i}": "d" for b in range(3) for i in range(50)}
    found = load_fingerprints(r, "t")
    assert {b: fp for b, fp in found.items() if fp != EMPTY} == expected(held)


def test_a_changed_digest_moves_the_fingerprint_and_a_rebuild_agrees(
    r: redis.Redis, raw_r: redis.Redis
) -> None:
    run_id = make_run(r, 1, size=30)
    settle_all(r, raw_r, run_id, 1)
    before = load_fingerprints(r, "t")
    # A second run of the same items with other digests: replaced, not added
    r2 = make_run(r, 1, size=30, digest="e")
    settle_all(r, raw_r, r2, 1)
    after = load_fingerprints(r, "t")
    held = {f"0-{i}": "e" for i in range(30)}
    assert {b: fp for b, fp in after.items() if fp != EMPTY} == expected(held)
    assert after != before
    # Forget the fingerprints: the rebuild from the digests gives the same values
    r.delete(keys.bucket_fingerprints("t"))
    assert {b: fp for b, fp in load_fingerprints(r, "t").items() if fp != EMPTY} == expected(held)
    assert len(load_fingerprints(r, "t")) == keys.HASH_BUCKETS


def test_sub_bucket_fingerprints_agree_with_python_and_survive_a_rebuild(
    r: redis.Redis, raw_r: redis.Redis
) -> None:
    run_id = make_run(r, 2, size=60)
    settle_all(r, raw_r, run_id, 2)
    held = {f"{b}-{i}": "d" for b in range(2) for i in range(60)}
    subs: dict[tuple[int, int], int] = {}
    for item_id, digest in held.items():
        place = (keys.item_bucket(item_id), sub_of(item_id))
        subs[place] = subs.get(place, 0) ^ fingerprint(item_id, digest)
    buckets = sorted({b for b, _ in subs})

    def stored() -> dict[tuple[int, int], str]:
        load_fingerprints(r, "t")  # completes them first if needed
        found = load_sub_fingerprints(r, "t", buckets)
        return {
            (b, s): fp
            for b, row in zip(buckets, found, strict=True)
            for s, fp in enumerate(row)
            if fp != EMPTY
        }

    assert stored() == {place: fingerprint_hex(v) for place, v in subs.items()}
    r.delete(keys.bucket_fingerprints("t"), keys.sub_fingerprints("t"))
    assert stored() == {place: fingerprint_hex(v) for place, v in subs.items()}
