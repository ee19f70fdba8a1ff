"""The ledger's rules on a real Redis with the fake provider, one fault at a time.

Success only when proven; no poison batch; no second remote job for a batch whose fate is
unknown; one bad item never sinks its batch; every run ends.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys
from workers.errors import UNVERIFIED, AnswerLost, ConfigError, ProviderUnavailable, UnverifiedAnswer
from workers.ledger import item_errors, load_batch, mark_submitted, record_results, run_document
from workers.poller import sweep
from workers.providers.base import ItemResult, JobStatus
from workers.providers.fake import FakeProvider
from workers.submit import submit_batch


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def catalog(n: int) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "title": f"T{i}", "url": f"https://a.example/{i}"} for i in range(n)]


def digest_of(r: redis.Redis, item_id: str) -> str | None:
    """The item's digest at the connection's target (the newest run says which)."""
    run_id = r.zrevrange(keys.RUNS_INDEX, 0, 0)[0]
    target = r.hget(keys.run(run_id), "target")
    assert target
    return r.hget(keys.content_hashes(target, keys.item_bucket(item_id)), item_id)  # type: ignore[return-value]


def sent_ids(provider: FakeProvider) -> list[str]:
    return [i for _, ids in provider.submissions for i in ids]


@pytest.mark.parametrize("resend_safe", [True, False])
def test_a_batch_whose_worker_died_mid_send_is_resent_only_where_that_cannot_make_a_second_job(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], resend_safe: bool
) -> None:
    provider = FakeProvider(resend_safe=resend_safe)
    deps = make_deps(r, raw_r, provider)
    run_id = start_run("acme", catalog(200), SyncOptions(), r=r, settings=deps.settings)
    # Given the first batch's previous attempt left its sending mark: its worker was killed
    # after the request left and before the answer was recorded
    first = f"{run_id}-00000"
    r.hset(keys.batch(first), "sending", "a-dead-worker")
    # When the run is worked to its end
    doc = drain(deps, sent, run_id)
    # Then the run ends with exact counts either way
    assert doc["counts"]["total"] == 200 and doc["counts"]["pending"] == 0
    first_items = [f"c{i}" for i in range(100)]
    if resend_safe:
        # and a provider that cannot make a second job gets the batch again
        assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 200
        assert all(digest_of(r, i) for i in first_items)
    else:
        # and any other provider never gets it a second time: its items fail unverified, keep no
        # digest, and so are sent by the next sync
        assert doc["state"] == "completed_with_errors"
        assert doc["counts"]["failed"] == 100 and doc["counts"]["succeeded"] == 100
        assert not set(first_items) & set(sent_ids(provider))
        assert {e["code"] for e in item_errors(r, run_id)} == {UNVERIFIED}
        assert all(digest_of(r, i) is None for i in first_items)
        again = start_run("acme", catalog(200), SyncOptions(), r=r, settings=deps.settings)
        assert drain(deps, sent, again)["counts"]["unchanged"] == 100
        assert set(first_items) <= set(sent_ids(provider))


@pytest.mark.parametrize(
    "answer", [AnswerLost("read timeout after the body left"), UnverifiedAnswer("200 without a task id")]
)
@pytest.mark.parametrize("resend_safe", [True, False])
def test_an_answer_lost_or_unreadable_never_counts_as_success(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], answer: Exception, resend_safe: bool
) -> None:
    provider = FakeProvider(resend_safe=resend_safe, errors=[answer])
    deps = make_deps(r, raw_r, provider)
    doc = drain(deps, sent, start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings))
    if resend_safe:
        assert doc["state"] == "completed" and len(provider.submissions) == 1
    else:
        assert doc["state"] == "failed" and doc["counts"]["failed"] == 100
        assert provider.submissions == [] and doc["errors"][0]["code"] == UNVERIFIED


def test_any_exception_while_sending_is_a_counted_attempt_and_fails_visibly_after_the_maximum(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    # Given a provider client that keeps raising something outside the error tree
    provider = FakeProvider(errors=[TypeError("'int' object is not iterable")] * 10)
    deps = make_deps(r, raw_r, provider, max_attempts=3)
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    doc = drain(deps, sent, run_id)
    # Then the batch was tried three times, not once and never again, and fails naming it
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None and batch.attempts == 3 and batch.state == "failed"
    assert doc["state"] == "failed" and doc["counts"]["failed"] == 100
    assert "unexpected TypeError: 'int' object is not iterable" in doc["errors"][0]["message"]
    assert len(provider.errors) == 7


def test_a_configuration_blip_is_retried_like_an_outage(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    blips = [ConfigError("configuration file 'x.toml' is not valid TOML")] * 2
    conn = deps.get_connection("acme")

    def flaky(name: str) -> Any:
        if blips:
            raise blips.pop()
        return conn

    deps = make_deps(r, raw_r, provider)
    object.__setattr__(deps, "get_connection", flaky)
    doc = drain(deps, sent, start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings))
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 100


def test_a_batch_refused_whole_is_halved_until_its_bad_item_stands_alone(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    # Given a provider that refuses any request holding c37 (a bad value in its extra fields)
    provider = FakeProvider(poison={"c37"})
    deps = make_deps(r, raw_r, provider)
    doc = drain(deps, sent, start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings))
    # Then c37 alone fails, with the provider's reason, and the 99 others succeed
    assert doc["counts"] == {"total": 100, "invalid": 0, "unchanged": 0, "excluded": 0, "submitted": 99,
                             "succeeded": 99, "failed": 1, "pending": 0}  # fmt: skip
    assert [(e["item_id"], e["code"]) for e in item_errors(r, doc["run_id"])] == [("c37", "INPUT_INVALID")]
    # And the extra requests it cost are reported: 100 -> 50 -> 25 -> 13 -> 6 -> 3 -> 1
    assert doc["splits"] == {"batches": 6, "extra_requests": 12}
    assert doc["batches"]["split"] == 6 and doc["batches"]["total"] == 13
    assert len(provider.submissions) == 1 + 12


def test_splitting_stops_at_its_budget_and_fails_the_rest_with_the_reason(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(poison={f"c{i}" for i in range(100)})  # everything is refused
    deps = make_deps(r, raw_r, provider, split_max_extra_requests=6)
    doc = drain(deps, sent, start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings))
    assert doc["state"] == "failed" and doc["counts"]["failed"] == 100
    assert doc["splits"]["extra_requests"] == 6
    assert len(provider.submissions) == 7


def test_an_item_reported_both_succeeded_and_failed_is_failed(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(3), SyncOptions(), r=r, settings=deps.settings)
    assert submit_batch(sent.pop(0), deps) == "submitted"
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None
    results = [
        ItemResult("c0", ok=True),
        ItemResult("c1", ok=True),
        ItemResult("c1", ok=False, code="X", message="refused"),
        ItemResult("c1", ok=True),
        ItemResult("someone-else", ok=True),  # not ours: ignored
    ]
    record_results(r, raw_r, batch, results, deps.settings)
    doc = run_document(r, run_id)
    assert doc is not None and doc["counts"]["succeeded"] == 1 and doc["counts"]["failed"] == 2
    assert digest_of(r, "c0") and digest_of(r, "c1") is None and digest_of(r, "c2") is None
    assert {e["item_id"]: e["code"] for e in item_errors(r, run_id)} == {
        "c1": "X",
        "c2": "coursesync.NO_RESULT",
    }


def test_one_garbage_answer_never_stops_the_sweep_and_is_counted(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(pending_polls=0)
    deps = make_deps(r, raw_r, provider)
    run_id = start_run("acme", catalog(300), SyncOptions(), r=r, settings=deps.settings)
    while sent:
        assert submit_batch(sent.pop(0), deps) == "submitted"
    provider.errors.append(KeyError("data"))  # one poll meets an answer its parser chokes on
    r.zadd(keys.JOBS_DUE, {m: 0 for m in r.zrange(keys.JOBS_DUE, 0, -1)})
    assert sweep(deps).outcomes == {"error": 1, "done": 2}
    states = [
        r.hmget(keys.batch(b), "state", "poll_errors") for b in r.lrange(keys.run_batches(run_id), 0, -1)
    ]
    assert sorted(states) == [["completed", "0"], ["completed", "0"], ["submitted", "1"]]
    assert drain(deps, sent, run_id)["state"] == "completed"


def test_a_job_that_failed_for_a_transient_reason_is_sent_again_and_counted_once(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(statuses=[JobStatus("retry", code="PLATFORM.TASK_TIMED_OUT", reason="timed out")])
    deps = make_deps(r, raw_r, provider)
    doc = drain(deps, sent, start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings))
    assert doc["state"] == "completed" and doc["counts"]["submitted"] == 100
    assert doc["batches"] == {
        "total": 1,
        "pending": 0,
        "submitted": 0,
        "completed": 1,
        "failed": 0,
        "split": 0,
    }
    assert len(provider.submissions) == 2


def test_a_host_clock_five_minutes_ahead_moves_no_lease_and_no_due_time(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 300)
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    seconds, micros = r.time()
    redis_now_ms = seconds * 1000 + micros // 1000
    lease = r.zscore(keys.inflight("acme"), f"{run_id}-00000")
    assert lease is not None and 0 < lease - redis_now_ms < 200_000  # the lease, on Redis' clock
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None and mark_submitted(r, batch, "job-1", 2.0)
    due = r.zscore(keys.JOBS_DUE, batch.id)
    assert due is not None and 0 < due - redis_now_ms < 5_000
    assert r.zscore(keys.inflight("acme"), batch.id) is None  # left in the same step


def test_a_full_redis_refuses_a_transition_whole_never_halfway(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    batch = load_batch(r, f"{run_id}-00000")
    assert batch is not None and r.zscore(keys.inflight("acme"), batch.id) is not None
    old = r.config_get("maxmemory")["maxmemory"]
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", max(1, used - 1024 * 1024))
    try:
        with pytest.raises(redis.ResponseError, match="maxmemory"):
            mark_submitted(r, batch, "job-1", 2.0)
    finally:
        r.config_set("maxmemory", old)
    # The batch is still pending and still in flight: nothing of the transition happened
    again = load_batch(r, batch.id)
    assert again is not None and again.state == "pending" and again.job_ref is None
    assert r.zscore(keys.inflight("acme"), batch.id) is not None
    assert r.zscore(keys.JOBS_DUE, batch.id) is None
    assert drain(deps, sent, run_id)["state"] == "completed"


def test_a_provider_outage_longer_than_the_attempts_fails_visibly(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(errors=[ProviderUnavailable("503", status_code=503)] * 5)
    deps = make_deps(r, raw_r, provider, max_attempts=4)
    doc = drain(deps, sent, start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings))
    assert doc["state"] == "failed" and "gave up after 4 attempts" in doc["errors"][0]["message"]


def test_a_sending_mark_survives_waits_and_blips_before_the_next_send(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    # Given a batch a killed worker left with its sending mark, at a provider that is not
    # resend-safe, and a next attempt that first meets a config blip and then a held lock
    provider = FakeProvider(resend_safe=False)
    deps = make_deps(r, raw_r, provider)
    run_id = start_run("acme", catalog(100), SyncOptions(), r=r, settings=deps.settings)
    batch_id = sent.pop(0)
    r.hset(keys.batch(batch_id), "sending", "a-dead-worker")
    conn = deps.get_connection("acme")
    blips = [ConfigError("a half-written config file")]

    def flaky(name: str) -> Any:
        if blips:
            raise blips.pop()
        return conn

    object.__setattr__(deps, "get_connection", flaky)
    assert submit_batch(batch_id, deps) == "deferred"
    r.set(keys.batch_lock(batch_id), "the-dead-workers-lock", px=50)
    assert submit_batch(batch_id, deps) == "deferred"
    time.sleep(0.06)
    # Then the mark is still there when the batch is finally looked at, and it is never resent
    assert r.hget(keys.batch(batch_id), "sending") == "a-dead-worker"
    assert submit_batch(batch_id, deps) == "failed"
    assert provider.submissions == []
    doc = run_document(r, run_id)
    assert doc is not None and doc["errors"][0]["code"] == UNVERIFIED
