"""Fleet-wide limits with several real worker processes against the sandbox (issue 4).

Each test starts its own pipeline: 3 worker processes (x4 concurrency) and beat on real Redis,
and a sandbox that enforces the provider's limits the way Kombo does.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline, kombo_config

pytestmark = pytest.mark.integration

INTEGRATION = "sandbox:coursesync-demo"


def items(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "title": f"T{i}", "url": f"https://a.example/{prefix}/{i}"} for i in range(n)
    ]


def test_the_fleet_stays_within_the_providers_request_rate(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provider allowing 8 requests/s and a fleet of 12 worker processes sharing that budget
    rate = 8
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=10, requests_per_minute=rate * 60),
        sandbox_args=["--kombo-pending-s", "0.3", "--kombo-rate-per-s", str(rate)],
        workers=3,
    )
    r = pipeline.use(monkeypatch)
    started = time.time()
    # When 60 batches go through (60 POSTs plus their polls, all counted by the provider)
    doc = pipeline.wait_for_run(r, start_run("it-kombo", items(600, "rate"), SyncOptions(full=True), r=r))
    assert doc["counts"]["succeeded"] == 600
    log = pipeline.sandbox(f"/_sandbox/requests?since={started}")
    log = log["requests"] if isinstance(log, dict) else log
    # Then the provider never had to refuse a request...
    bad = [i for i, e in enumerate(log) if e[4] == 429]
    assert not bad, [
        (round(e[0] - log[0][0], 3), e[2], e[3], e[4]) for e in log[max(0, bad[0] - 12) : bad[0] + 2]
    ]
    # ...and no one-second window holds more than the rate plus the bucket's burst
    times = sorted(entry[0] for entry in log)
    busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert busiest <= 2 * rate


def test_concurrency_never_exceeds_the_cap(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given slow provider requests and a connection allowed 3 in flight
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=10, max_in_flight=3, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "0.2", "--latency-s", "0.3", "--kombo-concurrency-limit", "3"],
        workers=3,
    )
    r = pipeline.use(monkeypatch)
    doc = pipeline.wait_for_run(r, start_run("it-kombo", items(300, "conc"), SyncOptions(full=True), r=r))
    assert doc["counts"]["succeeded"] == 300
    stats = pipeline.sandbox("/_sandbox/stats")
    # Then 12 worker processes never had more than 3 requests in flight at the provider
    assert stats["in_flight_peak"][f"kombo:{INTEGRATION}"] == 3
    assert stats["by_status"].get("429", 0) == 0


def test_a_killed_workers_batches_come_back_and_the_run_completes(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given batches that take a while at the provider
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=4, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "0.2", "--latency-s", "1.5"],
        workers=2,
    )
    r = pipeline.use(monkeypatch)
    run_id = start_run("it-kombo", items(400, "kill"), SyncOptions(full=True), r=r)
    # When one worker is SIGKILLed while it holds batches
    time.sleep(2.0)
    pipeline.stack.kill("worker", signal.SIGKILL)
    # Then its leases expire, the other worker takes the batches, and nothing is lost
    doc = pipeline.wait_for_run(r, run_id, timeout_s=240)
    assert doc["counts"]["succeeded"] == 400 and doc["counts"]["failed"] == 0
    stats = pipeline.sandbox("/_sandbox/stats")
    assert stats["kombo"]["tasks_created"] == doc["batches"]["total"]  # no duplicate remote jobs


def test_random_429s_503s_and_timeouts_lose_nothing_and_duplicate_nothing(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provider that answers 10% 429, 10% 503 and holds 5% of answers past the timeout
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=25, requests_per_minute=60_000),
        sandbox_args=[
            "--kombo-pending-s", "0.3", "--seed", "11", "--fail-rate-429", "0.1",
            "--fail-rate-5xx", "0.1", "--timeout-rate", "0.05", "--timeout-sleep-s", "7",
        ],
        workers=2,
    )  # fmt: skip
    r = pipeline.use(monkeypatch)
    doc = pipeline.wait_for_run(
        r, start_run("it-kombo", items(1000, "chaos"), SyncOptions(full=True), r=r), timeout_s=300
    )
    # Then every item ended succeeded (or failed with a reason), none is pending or lost
    c = doc["counts"]
    assert c["pending"] == 0 and c["succeeded"] + c["failed"] == 1000
    assert c["failed"] == 0, doc["errors"][:3]
    stats = pipeline.sandbox("/_sandbox/stats")
    assert stats["by_status"].get("429", 0) > 0 and stats["by_status"].get("503", 0) > 0
    # And a batch re-sent after a timeout reused its remote task (no duplicate remote jobs)
    assert stats["kombo"]["tasks_created"] == doc["batches"]["total"]
