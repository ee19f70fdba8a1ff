"""Cancel a run, pause and resume a connection (``workers.control``), on a real Redis with the
fake provider; the test plays the worker and the poller (``drain``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from tests.unit.test_run_state import make_run
from workers import keys, ledger
from workers.control import cancel_run, is_paused, pause_connection, paused_connections, resume_connection
from workers.dispatch import dispatch
from workers.doctor import examine
from workers.errors import ConfigError
from workers.ledger import CANCELLED, item_errors, load_batch, run_document
from workers.providers.fake import FakeProvider
from workers.submit import submit_batch


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def catalog(n: int) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "title": f"T{i}", "url": f"https://a.example/{i}"} for i in range(n)]


def sum_rule_holds(doc: dict[str, Any]) -> bool:
    c = doc["counts"]
    return c["pending"] == 0 and c["total"] == c["invalid"] + c["unchanged"] + c["succeeded"] + c["failed"]


def test_cancel_fails_what_was_never_sent_and_tracks_what_the_provider_has(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    run_id = start_run("acme", catalog(500), SyncOptions(), r=r, settings=deps.settings)
    # Given one batch at the provider (a remote job running) and four never sent
    assert submit_batch(sent.pop(0), deps) == "submitted"
    # When the run is cancelled
    doc = cancel_run(r, run_id, deps.settings)
    # Then the four fail at once with CANCELLED, the submitted one is left to the poller
    assert doc is not None and doc["cancel"] == {"not_sent": 4, "not_sent_items": 400, "in_flight": 1}
    assert doc["state"] == "running" and doc["batches"]["failed"] == 4 and doc["batches"]["submitted"] == 1
    assert not r.lrange(keys.ready("acme"), 0, -1) and not r.zrange(keys.DEFERRED, 0, -1)
    errors = list(item_errors(r, run_id))
    assert len(errors) == 400 and {e["code"] for e in errors} == {CANCELLED}
    # And cancelling again finds nothing more to fail
    again = cancel_run(r, run_id, deps.settings)
    assert again is not None and again["cancel"] == {"not_sent": 0, "not_sent_items": 0, "in_flight": 1}
    # When the worker and poller go on, the job ends with its real outcome and the run ends cancelled
    final = drain(deps, sent, run_id)
    assert final["state"] == "cancelled" and sum_rule_holds(final)
    assert final["counts"]["succeeded"] == 100 and final["counts"]["failed"] == 400
    assert len(provider.submissions) == 1  # nothing else was sent
    # And a cancel of the ended run returns its document unchanged
    assert cancel_run(r, run_id, deps.settings) == run_document(r, run_id)
    assert cancel_run(r, "r_no_such_run", deps.settings) is None


def test_cancelling_a_finished_run_changes_nothing(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(200), SyncOptions(), r=r, settings=deps.settings)
    before = drain(deps, sent, run_id)
    assert before["state"] == "completed"
    assert cancel_run(r, run_id, deps.settings) == before == run_document(r, run_id)


def test_a_worker_holding_a_batch_of_a_cancelled_run_does_not_send_it(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    # Given the flag raised (as cancel_run does first) while a worker already holds the batch
    assert ledger.request_cancel(r, run_id) == "cancelled"
    # When the worker gets to send it
    assert submit_batch(sent.pop(0), deps) == "failed"
    # Then nothing left, and the run ended cancelled with exact counts
    assert provider.submissions == []
    doc = run_document(r, run_id)
    assert doc is not None and doc["state"] == "cancelled" and doc["counts"]["failed"] == 100
    assert sum_rule_holds(doc) and r.zcard(keys.inflight("acme")) == 0


def test_a_batch_marked_sending_is_never_cancelled_and_a_cancelled_one_never_marked(
    r: redis.Redis, raw_r: redis.Redis
) -> None:
    run_id = make_run(r, 40)
    batches = [load_batch(r, f"{run_id}-{b:05d}") for b in range(40)]
    marked: list[str] = []
    go = threading.Barrier(2)

    def worker() -> None:
        go.wait()
        for batch in batches:
            assert batch is not None
            if ledger.mark_sending(r, batch, "tok") == "ok":
                marked.append(batch.id)

    def canceller() -> None:
        go.wait()
        ledger.request_cancel(r, run_id)

    threads = [threading.Thread(target=worker), threading.Thread(target=canceller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settings = make_deps(r, raw_r, FakeProvider()).settings
    for batch in batches:
        assert batch is not None
        outcome = ledger.cancel_batch(r, raw_r, batch, settings)
        current = load_batch(r, batch.id)
        assert current is not None
        if batch.id in marked:
            # Its request may be at the provider: left to its worker, mark kept
            assert outcome == "sending" and current.state == "pending" and current.sending == "tok"
        else:
            # Never marked: failed, and it can no longer be marked
            assert outcome == "open" and current.state == "failed"
            assert ledger.mark_sending(r, batch, "late") == "gone"
    doc = run_document(r, run_id)
    assert doc is not None and doc["counts"]["failed"] == 10 * (40 - len(marked))
    assert doc["batches"]["failed"] == 40 - len(marked)


def test_the_producer_stops_reading_once_its_run_is_cancelled(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    box: dict[str, str] = {}

    def items() -> Iterator[dict[str, Any]]:
        for i, item in enumerate(catalog(10_000)):
            if i == 1500:
                # Cancelled while the producer reads (the run id is the newest in the index)
                box["run"] = r.zrevrange(keys.RUNS_INDEX, 0, 0)[0]
                cancel_run(r, box["run"], deps.settings)
            yield item

    run_id = start_run("acme", items(), SyncOptions(), r=r, settings=deps.settings)
    assert run_id == box["run"]
    doc = run_document(r, run_id)
    assert doc is not None and doc["state"] == "cancelled" and sum_rule_holds(doc)
    # It stopped at its next flush: the rest of the catalog was never read nor counted
    assert 0 < doc["counts"]["total"] <= 2000 and doc["counts"]["failed"] == doc["counts"]["total"]
    assert provider.submissions == [] and doc["batches"]["pending"] == 0


def test_a_paused_connection_sends_nothing_and_shows_its_runs_paused_until_resumed(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    pause_connection(r, "acme")
    assert is_paused(r, "acme") and paused_connections(r) == {"acme"}
    run_id = start_run("acme", catalog(300), SyncOptions(), r=r, settings=deps.settings)
    # Dispatch handed nothing out; the run shows paused and its batches wait where the doctor
    # finds them (nothing stranded, nothing ended)
    assert sent == []
    doc = run_document(r, run_id)
    assert doc is not None and doc["state"] == "paused" and doc["paused"] is True
    assert ledger.list_runs(r)[0]["state"] == "paused"
    report = examine(r, deps.settings)
    assert report.healthy and report.requeued == [] and r.zscore(keys.OPEN_RUNS, run_id) is not None
    # When it is resumed, the next dispatch sends the waiting batches and the run completes
    resume_connection(r, "acme")
    assert not is_paused(r, "acme") and paused_connections(r) == set()
    doc = run_document(r, run_id)
    assert doc is not None and doc["state"] == "queued" and "paused" not in doc
    dispatch(r, "acme", deps.get_connection("acme"), deps.settings, deps.send)
    assert sent
    final = drain(deps, sent, run_id)
    assert final["state"] == "completed" and final["counts"]["succeeded"] == 300


def test_a_worker_holding_a_batch_of_a_paused_connection_puts_it_back(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    run_id = start_run("acme", catalog(300), SyncOptions(), r=r, settings=deps.settings)
    assert submit_batch(sent.pop(0), deps) == "submitted"
    held = list(sent)
    sent.clear()
    pause_connection(r, "acme")
    # When workers get to the batches they already held, they put them back unsent
    for batch_id in held:
        assert submit_batch(batch_id, deps) == "paused"
    assert len(provider.submissions) == 1 and r.zcard(keys.inflight("acme")) == 0
    assert r.lrange(keys.ready("acme"), 0, len(held) - 1)[-1] in held
    assert sent == []  # and no dispatch after them handed anything out
    # The job already running is still polled to its end
    from workers.poller import sweep

    for _ in range(3):  # the fake job answers pending once, then its results
        if r.zcard(keys.JOBS_DUE):
            r.zadd(keys.JOBS_DUE, {m: 0 for m in r.zrange(keys.JOBS_DUE, 0, -1)})
        sweep(deps)
    doc = run_document(r, run_id)
    assert doc is not None and doc["counts"]["succeeded"] == 100 and doc["state"] == "paused"
    assert examine(r, deps.settings).healthy
    resume_connection(r, "acme")
    dispatch(r, "acme", deps.get_connection("acme"), deps.settings, deps.send)
    final = drain(deps, sent, run_id)
    assert final["state"] == "completed" and final["counts"]["succeeded"] == 300


def test_pausing_an_unknown_connection_is_a_config_error_naming_it(r: redis.Redis, sent: list[str]) -> None:
    with pytest.raises(ConfigError, match="nope"):
        pause_connection(r, "nope")
    with pytest.raises(ConfigError, match="nope"):
        resume_connection(r, "nope")
    assert paused_connections(r) == set()


def test_cli_cancel_pause_resume(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], redis_server: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from coursesync.cli import main

    monkeypatch.setenv("COURSESYNC_REDIS_URL", redis_server)
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(300), SyncOptions(), r=r, settings=deps.settings)
    assert main(["cancel", run_id]) == 0
    out = capsys.readouterr().out
    assert f"cancel requested for {run_id}: 3 pending batches (300 items) will not be sent" in out
    assert main(["status", run_id]) == 1  # cancelled: not every item ended well
    assert main(["cancel", "r_missing"]) == 2
    assert main(["pause", "acme"]) == 0 and is_paused(r, "acme")
    assert main(["pause", "nope"]) == 2
    assert main(["resume", "acme"]) == 0 and not is_paused(r, "acme")
