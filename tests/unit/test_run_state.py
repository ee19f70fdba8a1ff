"""Run counters stay exact under concurrent settling, and a run ends exactly once."""

from __future__ import annotations

import threading

import pytest
import redis

from workers import keys
from workers import ledger as runs
from workers.config import Settings
from workers.ledger import create_batch, load_batch, load_items, mark_submitted, outcomes, settle_batch
from workers.ledger.item_status import item_status as ledger_item_status
from workers.providers.base import ItemResult, OutboundItem


def make_run(r: redis.Redis, n_batches: int, size: int = 10, digest: str = "d") -> str:
    run_id = runs.new_run_id()
    runs.create_run(r, run_id=run_id, connection="acme", provider="kombo", retention_s=3600)
    for b in range(n_batches):
        items = [OutboundItem(f"{b}-{i}", digest, {"x": i}) for i in range(size)]
        create_batch(r, batch_id=f"{run_id}-{b:05d}", run_id=run_id, connection="acme", target="t",
                     op="upsert", items=items, retention_s=3600, payload_ttl_s=3600)  # fmt: skip
    pipe = r.pipeline()
    runs.add_counts(pipe, run_id, total=n_batches * size)
    pipe.execute()
    return run_id


def test_concurrent_settles_count_each_batch_once_and_end_the_run_once(r: redis.Redis) -> None:
    run_id = make_run(r, 40)
    runs.seal_run(r, run_id, "acme", retention_s=3600)
    endings: list[str] = []
    lock = threading.Lock()

    def settle_all() -> None:
        for b in range(40):
            batch = load_batch(r, f"{run_id}-{b:05d}")
            assert batch is not None
            result = settle_batch(
                r,
                batch,
                state="completed",
                n_ok=9,
                n_failed=1,
                errors=[{"item_id": f"{b}-0"}],
                retention_s=3600,
            )
            if result not in (None, "open"):
                with lock:
                    endings.append(result)

    threads = [threading.Thread(target=settle_all) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    doc = runs.run_document(r, run_id)
    assert doc is not None
    assert endings == ["completed_with_errors"]
    assert (
        doc["counts"]["succeeded"] == 360 and doc["counts"]["failed"] == 40 and doc["counts"]["pending"] == 0
    )
    assert doc["batches"]["completed"] == 40 and doc["batches"]["pending"] == 0
    assert len(doc["errors"]) == 40
    assert doc["finished_at"] is not None


def test_a_run_does_not_end_before_the_producer_seals_it(r: redis.Redis) -> None:
    run_id = make_run(r, 1)
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None
    assert (
        settle_batch(r, batch, state="completed", n_ok=10, n_failed=0, errors=[], retention_s=3600) == "open"
    )
    assert runs.run_document(r, run_id)["state"] == "running"  # type: ignore[index]
    assert runs.seal_run(r, run_id, "acme", retention_s=3600) == "completed"
    assert runs.seal_run(r, run_id, "acme", retention_s=3600) is None  # already ended


def test_submission_is_recorded_once_and_schedules_the_first_poll(r: redis.Redis) -> None:
    run_id = make_run(r, 1)
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None
    assert mark_submitted(r, batch, "task-1", 2.0) is True
    assert mark_submitted(r, batch, "task-2", 2.0) is False
    again = load_batch(r, batch.id)
    assert again is not None and again.job_ref == "task-1" and again.state == "submitted"
    assert r.zscore(keys.JOBS_DUE, batch.id) is not None
    doc = runs.run_document(r, run_id)
    assert doc is not None and doc["counts"]["submitted"] == 10 and doc["batches"]["submitted"] == 1


def test_errors_in_the_run_document_stop_at_one_hundred(r: redis.Redis) -> None:
    run_id = make_run(r, 3, size=60)
    runs.seal_run(r, run_id, "acme", retention_s=3600)
    for b in range(3):
        batch = load_batch(r, f"{run_id}-{b:05d}")
        assert batch is not None
        settle_batch(
            r,
            batch,
            state="completed",
            n_ok=0,
            n_failed=60,
            errors=[{"item_id": f"{b}-{i}"} for i in range(60)],
            retention_s=3600,
        )
    doc = runs.run_document(r, run_id)
    assert doc is not None and len(doc["errors"]) == 100 and doc["counts"]["failed"] == 180
    assert doc["state"] == "failed"


class Crashed(Exception):
    pass


def test_a_run_that_reads_as_ended_already_holds_every_digest_its_batches_earned(
    r: redis.Redis, raw_r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sync started the moment a run ends diffs against these digests: one written after the
    # run could be read as ended makes the next sync send that item again. So the worker is
    # "killed" at the first instruction after settling, and the digests must be there already.
    def crash(name: str) -> None:
        if name == "record.after_settle":
            raise Crashed(name)

    monkeypatch.setattr(outcomes, "crash_point", crash)
    run_id = make_run(r, 2, size=20)
    runs.seal_run(r, run_id, "acme", retention_s=3600)
    for b in range(2):
        batch = load_batch(r, f"{run_id}-{b:05d}")
        assert batch is not None
        found = [ItemResult(i.id, ok=True, remote_id=f"r-{i.id}") for i in load_items(raw_r, batch.id)]
        with pytest.raises(Crashed):
            outcomes.record_results(r, raw_r, batch, found, Settings())
    assert r.hget(keys.run(run_id), "state") == "completed"
    for b in range(2):
        for i in range(20):
            item_id = f"{b}-{i}"
            bucket = keys.item_bucket(item_id)
            assert r.hget(keys.content_hashes("t", bucket), item_id) == "d"
            assert r.hget(keys.remote_ids("t", bucket), item_id) == f"r-{item_id}"
        assert ledger_item_status(r, "acme", f"{b}-0")["state"] == "succeeded"  # type: ignore[index]


def test_a_batch_settled_twice_writes_what_it_learned_once(r: redis.Redis, raw_r: redis.Redis) -> None:
    run_id = make_run(r, 1, size=3)
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None
    found = [ItemResult(i.id, ok=True) for i in load_items(raw_r, batch.id)]
    assert outcomes.record_results(r, raw_r, batch, found, Settings()) == "open"
    r.hdel(keys.content_hashes("t", keys.item_bucket("0-0")), "0-0")
    # A duplicate delivery of the same answer counts nothing and writes nothing
    assert outcomes.record_results(r, raw_r, batch, found, Settings()) is None
    assert r.hget(keys.content_hashes("t", keys.item_bucket("0-0")), "0-0") is None
