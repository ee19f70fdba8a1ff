"""The status sweep on a real Redis with the fake provider: due jobs only, once, to the end."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.run_starts import start_retry_run
from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps, record_client_and_grant
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys
from workers.deps import Deps
from workers.errors import NotFound, ProviderUnavailable
from workers.ledger import load_batch, record_results, run_document
from workers.poller import next_poll_delay_s, sweep
from workers.providers.base import ItemResult
from workers.providers.fake import FakeProvider
from workers.submit import submit_batch


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG)


def submitted_run(deps: Deps, sent: list[str], n: int) -> str:
    items = [{"id": f"c{i}", "title": "T", "url": "https://a.example"} for i in range(n)]
    run_id = start_run("acme", items, SyncOptions(), r=deps.r, settings=deps.settings)
    while sent:
        assert submit_batch(sent.pop(0), deps) == "submitted"
    return run_id


def make_all_due(r: redis.Redis) -> None:
    due = {m: 0 for m in r.zrange(keys.JOBS_DUE, 0, -1)}
    if due:
        r.zadd(keys.JOBS_DUE, due)


def test_a_job_that_completes_late_is_still_followed_to_the_end(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(pending_polls=6)
    deps = make_deps(r, raw_r, provider)
    run_id = submitted_run(deps, sent, 10)
    for _ in range(6):
        make_all_due(r)
        assert sweep(deps).outcomes == {"pending": 1}
    make_all_due(r)
    assert sweep(deps).outcomes == {"done": 1}
    assert run_document(r, run_id)["state"] == "completed"  # type: ignore[index]
    assert r.zcard(keys.JOBS_DUE) == 0


def test_only_due_jobs_are_polled(r: redis.Redis, raw_r: redis.Redis, sent: list[str]) -> None:
    provider = FakeProvider(pending_polls=100)
    deps = make_deps(r, raw_r, provider, poll_initial_delay_s=60)
    submitted_run(deps, sent, 300)  # 3 jobs, first poll in a minute
    assert sweep(deps).claimed == 0 and provider.polls == 0


def test_a_job_past_its_deadline_fails_with_the_reason(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider(pending_polls=1000), job_deadline_s=0.2)
    run_id = submitted_run(deps, sent, 5)
    time.sleep(0.3)
    make_all_due(r)
    assert sweep(deps).outcomes == {"failed": 1}
    doc = run_document(r, run_id)
    assert doc is not None and doc["state"] == "failed" and doc["counts"]["failed"] == 5
    assert doc["errors"][0]["code"] == "coursesync.TASK_TIMED_OUT"
    assert "did not finish within" in doc["errors"][0]["message"]


def test_a_status_endpoint_that_keeps_failing_ends_failed_not_polled_forever(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(pending_polls=1)
    deps = make_deps(r, raw_r, provider, max_attempts=5)
    run_id = submitted_run(deps, sent, 5)
    # Given a status endpoint that fails once transiently, then keeps answering 404
    provider.errors.extend(
        [ProviderUnavailable("503", status_code=503)] + [NotFound("task gone", status_code=404)] * 9
    )
    outcomes = []
    for _ in range(6):
        make_all_due(r)
        outcomes.append(next(iter(sweep(deps).outcomes), "nothing due"))
    # Then it is retried with backoff, and after five failed reads (max_attempts, whatever kind
    # of failure) the job fails for good
    assert outcomes == ["error"] * 4 + ["failed", "nothing due"]
    doc = run_document(r, run_id)
    assert (
        doc is not None
        and doc["state"] == "failed"
        and "could not be read 5 times" in doc["errors"][0]["message"]
    )


def test_two_concurrent_sweeps_never_poll_a_job_twice(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(pending_polls=100)
    deps = make_deps(r, raw_r, provider)
    submitted_run(deps, sent, 2000)  # 20 jobs
    make_all_due(r)
    stats: list[Any] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        stats.append(sweep(deps))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.polls == 20
    assert sorted(s.claimed for s in stats) in ([0, 20], [20, 20]) or sum(s.claimed for s in stats) == 20


def test_claims_are_disjoint_even_without_the_lock(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    from workers import ledger

    r.zadd(keys.JOBS_DUE, {f"job{i}": 0 for i in range(1000)})
    got: list[list[str]] = []

    def claim() -> None:
        got.append([bid for bid, _ in ledger.claim_due_jobs(r, limit=300, lease_s=60)[1]])

    threads = [threading.Thread(target=claim) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [j for batch in got for j in batch]
    assert len(claimed) == len(set(claimed)) == 1000


def test_a_result_processed_twice_is_counted_once(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = submitted_run(deps, sent, 3)
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None
    results = [ItemResult(f"c{i}", ok=i != 1, code="X", message="no") for i in range(3)]
    assert record_results(r, raw_r, batch, results, deps.settings) == "completed_with_errors"
    assert record_results(r, raw_r, batch, results, deps.settings) is None
    doc = run_document(r, run_id)
    assert doc is not None and doc["counts"]["succeeded"] == 2 and doc["counts"]["failed"] == 1


def test_polls_are_frequent_in_the_first_minute_then_back_off() -> None:
    delays = [
        next_poll_delay_s(age, initial_s=2, max_s=60, fast_phase_s=60) for age in (0, 30, 59, 120, 1000)
    ]
    assert all(1.8 <= d <= 2.2 for d in delays[:3])
    assert 27 <= delays[3] <= 33 and 54 <= delays[4] <= 66


def test_retry_sends_exactly_the_failed_items_again(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    items = [{"id": f"c{i}", "title": "T", "url": "https://a.example"} for i in range(250)] + [{"id": "bad"}]
    provider = FakeProvider(reject={"c3", "c140"})
    deps = make_deps(r, raw_r, provider)
    first = drain(deps, sent, start_run("acme", items, r=r, settings=deps.settings))
    assert first["counts"]["failed"] == 2 and first["counts"]["invalid"] == 1
    provider.reject.clear()
    before = len(provider.submissions)
    second = drain(deps, sent, start_retry_run(first["run_id"], r=r, settings=deps.settings))
    assert sorted(i for _, ids in provider.submissions[before:] for i in ids) == ["c140", "c3"]
    assert second["counts"]["total"] == 2 and second["counts"]["succeeded"] == 2
    assert second["state"] == "completed" and second["options"]["retry_of"] == first["run_id"]


def test_a_hint_longer_than_the_deadline_is_cut_to_it(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    from workers.errors import RateLimited

    provider = FakeProvider(pending_polls=1)
    deps = make_deps(r, raw_r, provider, job_deadline_s=30.0)
    submitted_run(deps, sent, 5)
    # Given a provider that asks to be left alone for an hour
    provider.errors.append(RateLimited("slow down", status_code=429, retry_after_s=3600.0))
    make_all_due(r)
    assert sweep(deps).outcomes == {"throttled": 1}
    # Then the job is due again no later than its deadline, 30 s after it was submitted
    ((_, due_ms),) = r.zrange(keys.JOBS_DUE, 0, -1, withscores=True)
    seconds, micros = r.time()
    assert due_ms - (seconds * 1000 + micros // 1000) <= 31_000


def test_the_provider_client_is_built_before_the_poll_is_granted(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for a submission: a client built after the grant makes a worker's first poll leave
    # late and reach the provider together with the requests granted since.
    provider = FakeProvider(pending_polls=1)
    deps = make_deps(r, raw_r, provider)
    submitted_run(deps, sent, 1)
    deps, order = record_client_and_grant(monkeypatch, deps, provider)
    make_all_due(r)
    assert sweep(deps).outcomes == {"pending": 1}
    assert order[:2] == ["client", "grant"]
