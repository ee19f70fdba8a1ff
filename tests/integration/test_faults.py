"""Faults on the real pipeline: killed workers, a crashed Redis, a failing provider, two beats.

Each test starts its own pipeline (real Redis, real ``celery worker``/``celery beat`` processes,
the sandbox on loopback), breaks something while a run is under way, and then checks the run's
exact counts against what the sandbox saw: every item delivered once, no remote job twice.
"""

from __future__ import annotations

import itertools
import random
import re
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
import redis

from producers.run_starts import start_retry_run
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline, kombo_config, record_figures
from workers import keys
from workers.ledger import FINAL_STATES, item_errors, run_document

pytestmark = pytest.mark.integration

INTEGRATION = "sandbox:coursesync-demo"
KOMBO_HEADERS = {"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": INTEGRATION}
POLL_ROUTE = "/lms/courses/bulk/{task_id}"
#: Celery's log line when a worker takes a message of coursesync.submit_batch.
TOOK_BATCH = re.compile(r"Task coursesync\.submit_batch\[[0-9a-f-]+\] received")
#: A dead worker's batches come back sooner: its batch locks last 2 x timeout + 10 s = 15 s,
#: and the batches it was handed are handed out again 8 s after they were.
QUICK_RECOVERY = {"COURSESYNC_PROVIDER_TIMEOUT_S": "2.5", "COURSESYNC_BATCH_LEASE_S": "8"}


def items(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "title": f"T{i}", "url": f"https://a.example/{prefix}/{i}"} for i in range(n)
    ]


def kombo_courses(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every course the sandbox's Kombo holds (its LMS), through the public list endpoint."""
    found: list[dict[str, Any]] = []
    cursor: str | None = "0"
    while cursor is not None:
        resp = httpx.get(
            pipeline.stack.sandbox_url + "/kombo/v1/lms/courses",
            params={"page_size": 250, "cursor": cursor},
            headers=KOMBO_HEADERS,
            timeout=10,
        )
        resp.raise_for_status()
        found += resp.json()["data"]["results"]
        cursor = resp.json()["data"]["next"]
    return found


def assert_each_item_delivered_once(pipeline: Pipeline, doc: dict[str, Any], n: int) -> None:
    """The provider holds exactly ``n`` courses, each written once, from one task per batch."""
    stats = pipeline.sandbox("/_sandbox/stats")["kombo"]
    assert stats["tasks_created"] == doc["batches"]["total"], stats  # no duplicate remote job
    assert stats["items_received"] == n and stats["distinct_ids"] == n, stats
    courses = kombo_courses(pipeline)
    assert len(courses) == n
    assert {c["remote_data"]["sandbox"]["upserts"] for c in courses} == {1}  # no duplicate effect


def still_running(r: redis.Redis, run_id: str) -> bool:
    doc = run_document(r, run_id)
    return doc is not None and doc["state"] not in FINAL_STATES


def test_ten_sigkilled_workers_lose_no_item_and_duplicate_no_remote_job(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 3 worker processes and a provider slow enough that batches are mid-flight at any time
    workers = ["worker", "worker1", "worker2"]
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=6, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "0.5", "--latency-s", "1.0"],
        workers=len(workers),
        concurrency=2,
        env=QUICK_RECOVERY,
    )
    stack = pipeline.stack
    r = pipeline.use(monkeypatch)
    n = 1200
    run_id = start_run("it-kombo", items(n, "kill"), SyncOptions(full=True), r=r)
    # When, ten times, a random one of the workers that took a batch since they started is
    # SIGKILLed with its pool, and started again
    rng = random.Random(20261123)
    log_from = dict.fromkeys(workers, 0)
    kills, deadline = 0, time.monotonic() + 60
    while kills < 10:
        assert time.monotonic() < deadline, f"only {kills} workers took batches to kill"
        time.sleep(0.5)
        busy = [w for w in workers if TOOK_BATCH.search(stack.log_text(w), log_from[w])]
        if not busy:
            continue
        assert still_running(r, run_id), f"the run ended after {kills} kills"
        name = rng.choice(busy)
        stack.kill(name, signal.SIGKILL)
        log_from[name] = len(stack.log_text(name))
        stack.start_worker(name, concurrency=2)
        kills += 1
    # Then the run completes with every item succeeded
    doc = pipeline.wait_for_run(r, run_id, timeout_s=150)
    assert doc["state"] == "completed", doc["errors"][:3]
    assert doc["counts"]["succeeded"] == n and doc["counts"]["failed"] == 0
    assert doc["batches"]["completed"] == doc["batches"]["total"] == n // 20
    # And batches were sent again after their workers died mid-request...
    stats = pipeline.sandbox("/_sandbox/stats")
    assert stats["kombo"]["idempotent_replays"] >= 1, stats
    assert stats["by_route"]["kombo POST /lms/courses/bulk"] > doc["batches"]["total"]
    # ...yet the provider got each batch as one task and each course once
    assert_each_item_delivered_once(pipeline, doc, n)
    record_figures("10 workers SIGKILLed mid-run (3 workers)", items=n, batches=doc["batches"]["total"],
                   remote_jobs=stats["kombo"]["tasks_created"], replays=stats["kombo"]["idempotent_replays"],
                   succeeded=doc["counts"]["succeeded"])  # fmt: skip


def test_a_redis_crash_and_restart_mid_run_ends_with_exact_counts(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pipeline on a Redis of its own that fsyncs every write to its append-only file
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=4, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "1.0", "--latency-s", "0.3"],
        workers=2,
        concurrency=2,
        aof_redis=True,
        env=QUICK_RECOVERY,
    )
    private = pipeline.stack.private_redis
    assert private is not None and "--appendfsync" in private.args
    r = pipeline.use(monkeypatch)
    n = 1600
    run_id = start_run("it-kombo", items(n, "redis"), SyncOptions(full=True), r=r)
    time.sleep(3)
    # When Redis is SIGKILLed mid-run, stays down 2 s, and comes back from its append-only file
    assert still_running(r, run_id)
    assert private.process is not None
    private.process.kill()
    private.process.wait(timeout=10)
    time.sleep(2)
    private.restart()
    time.sleep(3)
    # ...and later restarts once more, cleanly
    assert still_running(r, run_id), "the run ended before the second restart"
    private.restart()
    # Then the same worker and beat processes reconnect by themselves and the run completes exactly
    doc = pipeline.wait_for_run(r, run_id, timeout_s=150)
    assert doc["state"] == "completed", doc["errors"][:3]
    assert doc["counts"]["succeeded"] == n and doc["counts"]["failed"] == 0 and doc["counts"]["pending"] == 0
    assert doc["batches"]["completed"] == doc["batches"]["total"] == n // 20
    assert all(p.poll() is None for p in pipeline.stack.processes.values())  # none died, none restarted
    assert_each_item_delivered_once(pipeline, doc, n)
    record_figures("Redis SIGKILLed and restarted twice mid-run (AOF)", items=n, batches=doc["batches"]["total"],
                   succeeded=doc["counts"]["succeeded"], workers_restarted=0)  # fmt: skip


def test_a_sixty_second_provider_outage_is_waited_out_and_every_item_succeeds(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a retry policy that outlasts a minute (50 attempts, backoff up to 5 s)
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=2, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "3", "--latency-s", "0.2"],
        workers=2,
        concurrency=2,
        env={"COURSESYNC_MAX_ATTEMPTS": "50", "COURSESYNC_BACKOFF_CAP_S": "5"},
    )
    r = pipeline.use(monkeypatch)
    n = 600
    run_id = start_run("it-kombo", items(n, "down"), SyncOptions(full=True), r=r)
    time.sleep(2)
    # When the provider answers every request 503 for 60 s, mid-run
    assert still_running(r, run_id)
    outage_ends = time.time() + 60
    pipeline.sandbox("/_sandbox/config", {"down_until_epoch_s": outage_ends})
    # Then the run waits it out: it ends after the outage, with every item succeeded
    doc = pipeline.wait_for_run(r, run_id, timeout_s=120)
    assert time.time() >= outage_ends
    assert doc["state"] == "completed", doc["errors"][:3]
    assert doc["counts"]["succeeded"] == n and doc["counts"]["pending"] == 0
    stats = pipeline.sandbox("/_sandbox/stats")
    assert stats["by_status"]["503"] > 20  # submissions and polls were refused meanwhile
    assert_each_item_delivered_once(pipeline, doc, n)
    record_figures("provider down (503) for 60 s mid-run", items=n, refused_requests=stats["by_status"]["503"],
                   succeeded=doc["counts"]["succeeded"], ended_after_outage_s=round(time.time() - outage_ends, 1))  # fmt: skip


def test_an_outage_longer_than_the_retries_fails_items_with_the_reason_and_retry_delivers_them(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a retry policy of 3 attempts backing off at most 2 s, and a provider down for 8 s
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=2, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "0.5", "--latency-s", "0.2"],
        workers=1,
        concurrency=2,
        env={"COURSESYNC_MAX_ATTEMPTS": "3"},
    )
    r = pipeline.use(monkeypatch)
    n = 400
    run_id = start_run("it-kombo", items(n, "gone"), SyncOptions(full=True), r=r)
    time.sleep(1.5)
    assert still_running(r, run_id)
    outage_ends = time.time() + 8
    pipeline.sandbox("/_sandbox/config", {"down_until_epoch_s": outage_ends})
    # When the run ends
    doc = pipeline.wait_for_run(r, run_id, timeout_s=90)
    # Then every item either succeeded or failed with the provider's reason; none is pending.
    # Batches sent before the outage fail too when their status cannot be read 3 times: their
    # jobs may have ended well, but coursesync cannot prove it
    c = doc["counts"]
    assert c["pending"] == 0 and c["succeeded"] + c["failed"] == n
    assert c["failed"] > 0, c
    assert doc["state"] == ("completed_with_errors" if c["succeeded"] else "failed")
    errors = list(item_errors(r, run_id))
    assert len(errors) == c["failed"]
    assert all(e["stage"] == "provider" and "down for" in e["message"] for e in errors), errors[:2]
    # And once the provider is back, `retry` delivers exactly the failed items
    time.sleep(max(0.0, outage_ends - time.time()))
    retried = pipeline.wait_for_run(r, start_retry_run(run_id, r=r), timeout_s=60)
    assert retried["state"] == "completed" and retried["counts"]["succeeded"] == c["failed"]
    stats = pipeline.sandbox("/_sandbox/stats")["kombo"]
    assert stats["distinct_ids"] == n
    # (an item whose job ended well while its status could not be read was upserted twice)
    assert stats["items_received"] == c["submitted"] + c["failed"]
    record_figures("provider down 8 s, 3 attempts allowed", items=n, failed=c["failed"],
                   succeeded=c["succeeded"], retry_run_succeeded=retried["counts"]["succeeded"])  # fmt: skip


def test_ten_percent_5xx_and_answers_slower_than_the_timeout_lose_and_duplicate_nothing(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provider answering 10% of requests 503 and holding 10% of answers 7 s, past the
    # client's 5 s timeout (the work is done; only the answer is late)
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=25, requests_per_minute=60_000),
        sandbox_args=[
            "--kombo-pending-s", "0.3", "--seed", "23", "--fail-rate-5xx", "0.1",
            "--timeout-rate", "0.1", "--timeout-sleep-s", "7",
        ],
        workers=2,
    )  # fmt: skip
    r = pipeline.use(monkeypatch)
    n = 1000
    # When a catalog is synced through it
    doc = pipeline.wait_for_run(
        r, start_run("it-kombo", items(n, "flaky"), SyncOptions(full=True), r=r), timeout_s=150
    )
    # Then every item succeeded: no retry budget ran out, nothing is pending
    assert doc["state"] == "completed", doc["errors"][:3]
    assert doc["counts"]["succeeded"] == n and doc["counts"]["pending"] == 0
    stats = pipeline.sandbox("/_sandbox/stats")
    assert stats["by_status"]["503"] > 0
    worker_log = pipeline.stack.log_text("worker") + pipeline.stack.log_text("worker1")
    assert "no answer in time (ReadTimeout)" in worker_log  # late answers were given up on
    # And a batch re-sent after a late answer reused its task: each course was written once
    assert_each_item_delivered_once(pipeline, doc, n)
    record_figures("10 % answers 503, 10 % answers later than the timeout", items=n,
                   refused_requests=stats["by_status"]["503"], succeeded=doc["counts"]["succeeded"],
                   remote_jobs=stats["kombo"]["tasks_created"], batches=doc["batches"]["total"])  # fmt: skip


def test_two_beats_by_mistake_double_no_poll_and_no_scheduled_resync(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Given a connection with a resync every 3 s, remote tasks that run 3 s, and two beats
    source = tmp_path / "catalog.jsonl"
    source.write_text(
        "\n".join(f'{{"id": "s-{i}", "title": "S", "url": "https://a.example/{i}"}}' for i in range(30))
    )
    schedule = f'\n[connections.it-kombo.schedule]\nsource = "{source}"\nevery = "3s"\n'
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, requests_per_minute=60_000) + schedule,
        sandbox_args=["--kombo-pending-s", "3"],
        workers=2,
        concurrency=3,
    )
    pipeline.stack.start_beat("beat2")
    r = pipeline.use(monkeypatch)
    started = time.time()
    # When a run of 30 batches goes through while both beats tick every 0.5 s
    doc = pipeline.wait_for_run(r, start_run("it-kombo", items(600, "twice"), SyncOptions(full=True), r=r))
    time.sleep(max(0.0, started + 15 - time.time()))
    elapsed = time.time() - started
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 600
    # Then both beats were sending the poll and schedule tasks...
    for beat in ("beat", "beat2"):
        sent = pipeline.stack.log_text(beat)
        assert sent.count("(coursesync.poll_jobs)") >= 10 and sent.count("(coursesync.schedules)") >= 10
    # ...yet no task was polled twice at once: polls of one task are a poll interval apart
    log = pipeline.sandbox(f"/_sandbox/requests?since={started - 1}&paths=1")
    polls: dict[str, list[float]] = defaultdict(list)
    for t, provider, method, route, _status, path in log:
        if provider == "kombo" and method == "GET" and route == POLL_ROUTE:
            polls[path].append(t)
    assert len(polls) >= doc["batches"]["total"]
    gaps = [b - a for times in polls.values() for a, b in itertools.pairwise(times)]
    assert gaps and min(gaps) > 0.3, sorted(gaps)[:5]
    # And the scheduled resync fired once per due time, never twice
    state = r.hgetall(keys.schedule_state("it-kombo"))
    fired = int(state.get("fired", 0)) + int(state.get("skipped", 0))
    assert 3 <= fired <= elapsed / 3 + 1, (fired, elapsed)
    scheduled = sorted(
        datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")).timestamp()
        for run_id in r.zrange(keys.RUNS_INDEX, 0, -1)
        if (d := run_document(r, str(run_id))) and d["options"]["trigger"] == "schedule"
    )
    assert len(scheduled) == int(state.get("fired", 0))
    assert all(b - a > 2.0 for a, b in itertools.pairwise(scheduled)), scheduled
