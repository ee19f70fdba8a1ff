"""Batch payload blobs and the per-item hashes written when a batch's results are recorded."""

from __future__ import annotations

import zlib

import orjson
import redis

from workers import keys, lua
from workers import ledger as runs
from workers.config import Settings
from workers.ledger import create_batch, load_batch, record_results
from workers.ledger.payloads import decode_heads, decode_items, encode_items
from workers.providers.base import ItemResult, OutboundItem
from workers.providers.mapping import canonical_json

ITEMS = [OutboundItem(f"c{i}", f"d{i}", {"title": f"T\n{i}", "n": i}) for i in range(5)]


def test_a_blob_gives_back_its_items_and_their_heads_alone() -> None:
    blob = encode_items(ITEMS)
    assert decode_items(blob) == ITEMS
    assert decode_heads(blob) == [(f"c{i}", f"d{i}") for i in range(5)]


def test_a_blob_reuses_the_producers_serialised_payloads_and_reads_back_the_same() -> None:
    with_raw = [OutboundItem(i.id, i.digest, i.payload, canonical_json(i.payload)) for i in ITEMS]
    blob = encode_items(with_raw)
    assert decode_items(blob) == ITEMS
    # Written from the canonical bytes themselves (sorted keys), not serialised again
    assert (
        zlib.decompress(blob).split(b"\n")[1]
        == b"[" + b",".join(canonical_json(i.payload) for i in ITEMS) + b"]"
    )
    # One item without them: every payload is serialised, nothing is lost
    mixed = [*with_raw[:2], ITEMS[2], *with_raw[3:]]
    assert decode_items(encode_items(mixed)) == ITEMS


def test_a_blob_of_the_older_one_line_format_still_reads() -> None:
    # Batches queued by a previous version are still in Redis during an upgrade.
    old = zlib.compress(orjson.dumps([[i.id, i.digest, i.payload] for i in ITEMS]), 1)
    assert decode_items(old) == ITEMS
    assert decode_heads(old) == [(i.id, i.digest) for i in ITEMS]


def test_hset_many_writes_every_pair_of_every_hash_past_lua_unpack_limits(r: redis.Redis) -> None:
    big = {f"f{i}": f"v{i}" for i in range(5_000)}
    hashes = {"h:big": big, "h:one": {"a": "1"}, "h:two": {"b": "2", "c": "3"}}
    args: list[object] = []
    for key, mapping in hashes.items():
        args += [len(mapping), 60 if key == "h:one" else 0]
        for pair in mapping.items():
            args.extend(pair)
    assert lua.run(r, "hset_many", list(hashes), args) == 3
    assert {key: r.hgetall(key) for key in hashes} == hashes
    # And only the hash given a TTL has one
    assert 0 < r.ttl("h:one") <= 60 and r.ttl("h:big") == -1 and r.ttl("h:two") == -1


def test_recording_a_batch_writes_each_items_digest_and_remote_id_in_its_bucket_of_the_batch_target(
    r: redis.Redis, raw_r: redis.Redis
) -> None:
    run_id = runs.new_run_id()
    runs.create_run(r, run_id=run_id, connection="acme", provider="kombo", retention_s=3600)
    items = [OutboundItem(f"c{i}", f"d{i}", {"n": i}) for i in range(1_000)]
    create_batch(r, batch_id="b1", run_id=run_id, connection="acme", target="t-acme", op="upsert",
                 items=items, retention_s=3600, payload_ttl_s=3600)  # fmt: skip
    pipe = r.pipeline()
    runs.add_counts(pipe, run_id, total=1_000)
    pipe.execute()
    runs.seal_run(r, run_id, "acme", retention_s=3600)
    batch = load_batch(r, "b1")
    assert batch is not None
    results = [ItemResult(i.id, ok=True, remote_id=f"k-{i.id}") for i in items]
    assert record_results(r, raw_r, batch, results, Settings()) == "completed"
    for item in items:
        bucket = keys.item_bucket(item.id)
        assert r.hget(keys.content_hashes("t-acme", bucket), item.id) == item.digest
        assert r.hget(keys.remote_ids("t-acme", bucket), item.id) == f"k-{item.id}"
    assert not r.exists(keys.run_retry_items(run_id))


def test_a_batch_queued_before_targets_existed_loads_with_no_target(r: redis.Redis) -> None:
    # Given the hash of a batch an older producer queued (no target field)
    r.hset(keys.batch("old"), mapping={"run_id": "r1", "connection": "acme", "op": "upsert", "size": 1})
    # Then it loads, and its digests will go where no run reads them (its items are sent again)
    batch = load_batch(r, "old")
    assert batch is not None and batch.target == ""
