"""The doctor proves every open run can end, and repairs or ends what cannot (real Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from producers.producer import Producer
from producers.readers import Record
from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, connection, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys
from workers import ledger as runs
from workers.doctor import examine
from workers.ledger import load_batch, mark_submitted
from workers.providers.fake import FakeProvider


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def catalog(n: int) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "title": f"T{i}", "url": f"https://a.example/{i}"} for i in range(n)]


def test_a_healthy_fleet_needs_no_repair(r: redis.Redis, raw_r: redis.Redis, sent: list[str]) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    start_run("acme", catalog(300), SyncOptions(), r=r, settings=deps.settings)
    report = examine(r, deps.settings)
    assert report.healthy and report.open_runs == 1 and report.batches_checked == 3


def test_a_pending_batch_in_no_structure_is_put_back_and_its_run_ends(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(300), SyncOptions(), r=r, settings=deps.settings)
    # Given a batch that left its in-flight lease without being recorded anywhere (as the old
    # code did when Redis refused the next write), and whose message is lost
    lost = sent.pop(0)
    r.zrem(keys.inflight("acme"), lost)
    # When the doctor looks (first without repairing)
    assert examine(r, deps.settings, repair=False).requeued == [lost]
    assert r.zscore(keys.inflight("acme"), lost) is None
    report = examine(r, deps.settings)
    # Then it is back in its connection's ready list, and the run ends with exact counts
    assert report.requeued == [lost] and lost in r.lrange(keys.ready("acme"), 0, -1)
    assert examine(r, deps.settings).healthy
    from workers.dispatch import dispatch

    dispatch(r, "acme", deps.get_connection("acme"), deps.settings, deps.send)
    doc = drain(deps, sent, run_id)
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 300


def test_a_stranded_scheduled_resync_batch_goes_back_to_the_low_priority_list(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(5000), SyncOptions(trigger="schedule"), r=r, settings=deps.settings)
    # Given a scheduled resync's batch lost from flight, and one still waiting in the low list
    lost = sent.pop(0)
    r.zrem(keys.inflight("acme"), lost)
    waiting = r.lrange(keys.ready("acme", "low"), 0, -1)
    assert waiting  # the test needs both kinds
    # When the doctor repairs
    report = examine(r, deps.settings)
    # Then only the lost one was missing, and it waits again behind ordinary runs, not before
    assert report.requeued == [lost] and not set(waiting) & set(report.requeued)
    assert lost in r.lrange(keys.ready("acme", "low"), 0, -1) and not r.lrange(keys.ready("acme"), 0, -1)
    from workers.dispatch import dispatch

    dispatch(r, "acme", deps.get_connection("acme"), deps.settings, deps.send)
    doc = drain(deps, sent, run_id)
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 5000


def test_a_submitted_batch_missing_from_the_poll_schedule_is_polled_again(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    from workers.submit import submit_batch

    assert submit_batch(sent.pop(0), deps) == "submitted"
    r.delete(keys.JOBS_DUE)
    report = examine(r, deps.settings)
    assert report.rescheduled == [f"{run_id}-00000"]
    assert drain(deps, sent, run_id)["state"] == "completed"


@pytest.mark.parametrize(("batch_size", "lost"), [(100, 0), (300, 100)])
def test_a_run_whose_producer_died_mid_catalog_ends_with_exact_counts(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], batch_size: int, lost: int
) -> None:
    deps = make_deps(r, raw_r, FakeProvider(), conn=connection(batch_size=batch_size))
    conn = deps.get_connection("acme")
    run_id = runs.new_run_id()
    runs.create_run(r, run_id=run_id, connection="acme", provider="kombo", retention_s=3600)
    # Given a producer that read 1,500 items and then died (a deploy, the OOM killer): its first
    # window of 1,000 items went into batches, the rest only into its memory
    producer = Producer(r, deps.settings, conn, run_id, full=False, send=deps.send)
    producer.consume(Record(i + 1, item) for i, item in enumerate(catalog(1500)))
    del producer
    # When its heartbeat is older than the silence limit and the doctor looks
    r.zadd(keys.OPEN_RUNS, {run_id: 0})
    report = examine(r, deps.settings)
    # Then the run is ended with the reason; what was enqueued is still sent
    assert report.silent_runs_ended == [run_id]
    doc = drain(deps, sent, run_id)
    assert doc["state"] == "failed" and "producer stopped" in doc["reason"]
    # And the counts add up: items read but never batched are failed, not pending for ever
    assert doc["counts"]["total"] == 1000 and doc["counts"]["pending"] == 0
    assert doc["counts"]["succeeded"] == 1000 - lost and doc["counts"]["failed"] == lost
    if lost:
        assert any(e["code"] == "coursesync.NEVER_SENT" for e in doc["errors"])
    assert r.zscore(keys.OPEN_RUNS, run_id) is None


def test_a_live_producer_is_left_alone(r: redis.Redis, raw_r: redis.Redis, sent: list[str]) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = runs.new_run_id()
    runs.create_run(r, run_id=run_id, connection="acme", provider="kombo", retention_s=3600)
    assert examine(r, deps.settings).healthy
    assert runs.get_run(r, run_id)["sealed"] == "0"  # type: ignore[index]


def test_a_settled_run_that_did_not_end_is_ended(r: redis.Redis, raw_r: redis.Redis, sent: list[str]) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None and mark_submitted(r, batch, "job", 0)
    # Given every batch settled but the final state never written (the ending step crashed)
    r.hset(keys.batch(batch.id), "state", "completed")
    r.hincrby(keys.run(run_id), "b_submitted", -1)
    r.hincrby(keys.run(run_id), "b_completed", 1)
    r.hincrby(keys.run(run_id), "c_succeeded", 100)
    report = examine(r, deps.settings)
    assert report.runs_finalized == [run_id]
    assert runs.get_run(r, run_id)["state"] == "completed"  # type: ignore[index]
    assert r.zscore(keys.OUTBOX, run_id) is not None  # and its end will be announced
