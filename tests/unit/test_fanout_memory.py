"""A fan-out of a catalog file remembers each line's digests per mapping: the next fan-out of
the same file maps only the lines that changed, and what it knew is what a fresh read finds."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from producers.fanout import part, reading
from producers.fanout.plan import plan_views
from producers.fanout.reading import read_snapshot
from producers.fanout.snapshot import SnapshotReader
from tests.unit.test_fanout import catalog, counts, run_fanout
from tests.unit.test_fanout import setup as setup  # noqa: PLC0414 - the fixture, by its name
from workers import keys
from workers.catalog_files import memory_root, sweep_fanout_memory
from workers.config import get_settings
from workers.ledger import run_document
from workers.providers.registry import get_connection


def write(path: Path, items: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return str(path)


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the items the reading maps, once per mapping."""
    seen: list[str] = []
    real = reading.map_canonical

    def spy(course: Any, *args: Any) -> Any:
        seen.append(course.id)
        return real(course, *args)

    monkeypatch.setattr(reading, "map_canonical", spy)
    return seen


def test_the_next_fanout_of_a_file_maps_only_changed_lines_and_sends_known_items_from_their_lines(
    r: redis.Redis, raw_r: redis.Redis, setup: Any, mapped: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "catalog.jsonl"
    # Given a first fan-out of a file: every valid line is mapped, once for the two views of
    # one mapping
    first = run_fanout(r, raw_r, setup, write(path, catalog(300)))
    assert counts(first, "acme") == (301, 1, 0, 0, 300, 0, 0)
    assert counts(first, "acme-licensed") == (301, 1, 150, 0, 150, 0, 0)
    assert sorted(mapped) == sorted(f"c{i}" for i in range(300))
    # When two lines change, only they are mapped, and only they are sent
    mapped.clear()
    changed = run_fanout(r, raw_r, setup, write(path, catalog(300, frozenset({4, 7}))))
    assert sorted(mapped) == ["c4", "c7"]
    assert counts(changed, "acme") == (301, 1, 0, 298, 2, 0, 0)
    assert counts(changed, "acme-licensed") == (301, 1, 150, 149, 1, 0, 0)
    # And a target that lost its digests gets every item again, mapped from its catalog line
    # by its part (the reading maps nothing: every line is known)
    acme = next(run for run in changed["runs"] if run["connection"] == "acme")
    doc = run_document(r, acme["run_id"])
    assert doc is not None
    for bucket in range(keys.HASH_BUCKETS):
        r.delete(keys.content_hashes(doc["target"], bucket))
    r.delete(keys.bucket_fingerprints(doc["target"]), keys.sub_fingerprints(doc["target"]))
    mapped.clear()
    again = run_fanout(r, raw_r, setup, str(path))
    assert mapped == []
    assert counts(again, "acme") == (301, 1, 0, 0, 300, 0, 0)
    assert counts(again, "acme-licensed") == (301, 1, 150, 150, 0, 0, 0)


def test_a_read_with_the_memory_holds_what_a_fresh_read_holds(setup: Any, tmp_path: Path) -> None:
    views, _ = plan_views([get_connection("acme"), get_connection("acme-licensed")])
    settings = get_settings()
    items = catalog(120, frozenset({3}))
    path = write(tmp_path / "catalog.jsonl", catalog(120))
    read_snapshot(path, None, views, tmp_path / "s1", settings)  # the memory learns the file
    write(tmp_path / "catalog.jsonl", items)  # one line changed since
    with_memory = read_snapshot(path, None, views, tmp_path / "s2", settings)
    fresh = read_snapshot(items, None, views, tmp_path / "s3", settings)  # given in process: no memory
    same = ("fingerprints", "counts", "items", "excluded", "refused")
    assert [{k: v[k] for k in same} for v in with_memory["views"]] == [
        {k: v[k] for k in same} for v in fresh["views"]
    ]
    assert {k: v for k, v in with_memory.items() if k != "views"} == {
        k: v for k, v in fresh.items() if k != "views"
    }
    for view in views:
        known, mapped = (
            SnapshotReader(tmp_path / "s2", view.index),
            SnapshotReader(tmp_path / "s3", view.index),
        )
        sender = SimpleNamespace(mapper=view.mapper, conn=SimpleNamespace(options=view.options))
        remembered = 0
        for bucket in range(keys.HASH_BUCKETS):
            for a, b in zip(known.bucket(bucket), mapped.bucket(bucket), strict=True):
                assert a[:4] == b[:4] and a[5:7] == b[5:7]  # id, digest, op, size; line, sub
                remembered += a[4] < 0
                sent = part._prepared(sender, known, a)  # type: ignore[arg-type]
                assert not isinstance(sent, list)
                raw = mapped.payload(b)
                assert raw is not None
                assert (sent.item.id, sent.item.digest, sent.item.payload) == (b[0], b[1], json.loads(raw))
                assert sent.item.raw == raw  # the bytes a batch stores, mapped again or kept
        # Every line the view licenses was known but the changed one (c3: odd, not licensed)
        assert remembered == fresh["views"][view.index]["items"] - (view.entitlement is None)


def test_memories_not_written_for_the_retention_and_half_written_ones_are_swept(tmp_path: Path) -> None:
    root = memory_root(str(tmp_path))
    names = ["recent", "stale", "k.f_1.next", "k.f_2.old", "k.f_3.next"]
    for name in names:
        (root / name).mkdir(parents=True)
    day = 86_400
    ages = {
        "recent": 10 * day,
        "stale": 31 * day,
        "k.f_1.next": 2 * day,
        "k.f_2.old": 2 * day,
        "k.f_3.next": 3600,
    }
    for name, age in ages.items():
        then = time.time() - age
        os.utime(root / name, (then, then))
    removed = sweep_fanout_memory(str(tmp_path), kept_s=30 * day)
    assert removed == ["k.f_1.next", "k.f_2.old", "stale"]
    assert sorted(p.name for p in root.iterdir()) == ["k.f_3.next", "recent"]


def test_a_memory_kept_before_fingerprint_shares_were_kept_reads_the_same(setup: Any, tmp_path: Path) -> None:
    views, _ = plan_views([get_connection("acme"), get_connection("acme-licensed")])
    settings = get_settings()
    path = write(tmp_path / "catalog.jsonl", catalog(120))
    read_snapshot(path, None, views, tmp_path / "s1", settings)
    (folder,) = [p for p in memory_root(settings.catalog_dir).iterdir() if p.is_dir()]
    stripped = 0
    for shard in folder.iterdir():
        known = json.loads(shard.read_bytes())
        for _, mapped in known.values():
            for key, hit in mapped.items():
                assert len(hit) == 4  # digest, op, size, share
                mapped[key] = hit[:3]
                stripped += 1
        shard.write_text(json.dumps(known))
    assert stripped == 120
    older = read_snapshot(path, None, views, tmp_path / "s2", settings)
    fresh = read_snapshot(catalog(120), None, views, tmp_path / "s3", settings)
    assert [v["fingerprints"] for v in older["views"]] == [v["fingerprints"] for v in fresh["views"]]
    # and the memory it leaves has the shares again
    hits = [
        hit
        for shard in folder.iterdir()
        for _, m in json.loads(shard.read_bytes()).values()
        for hit in m.values()
    ]
    assert len(hits) == 120 and all(len(hit) == 4 for hit in hits)


def test_index_entries_written_a_shard_at_a_time_join_those_spilled_before(tmp_path: Path) -> None:
    from producers.fanout.files import PER_SHARD
    from producers.fanout.snapshot import SnapshotWriter

    writer = SnapshotWriter(tmp_path / "s", 1)
    view = writer.views[0]
    # Mapped as read (spilled): one item in shard 0, one in shard 1
    view.add("early", 3, "d1", "upsert", b'{"a":1}', line=1, sub=2, share=1)
    view.add("later", PER_SHARD + 1, "d2", "upsert", b'{"b":2}', line=2, sub=5, share=2)
    # Known ones, shard by shard, written straight to the index
    view.begin_shard()
    view.add_known("known", 3, "d3", "upsert", size=7, raw=(0, 10), line=3, sub=2, share=5)
    view.end_shard(0)
    with pytest.raises(ValueError, match="out of order"):
        view.end_shard(5)
    meta = writer.close()
    reader = SnapshotReader(tmp_path / "s", 0)
    assert [e[0] for e in reader.bucket(3)] == ["early", "known"]
    assert [e[0] for e in reader.bucket(PER_SHARD + 1)] == ["later"]
    assert reader.payload(reader.bucket(3)[0]) == b'{"a":1}' and reader.payload(reader.bucket(3)[1]) is None
    assert meta["views"][0]["counts"][3] == 2 and meta["views"][0]["items"] == 3
    reader.close()
