"""Rate limits, concurrency limits and injected faults: the mechanics, then Kombo over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from sandbox.limits import ConcurrencyCounter, Fault, FaultInjector, TokenBucket
from schemas.vendored import validator

HEADERS = {"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": "sandbox:coursesync-demo"}


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def body(origin: str) -> dict[str, Any]:
    return {
        "items": [
            {
                "origin_id": origin,
                "course": {"type": "EXTERNAL", "title": "T", "course_url": "https://a.example/"},
            }
        ]
    }


# --- the mechanics -----------------------------------------------------------------------------


def test_a_token_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2.0, capacity=3, clock=clock)
    decisions = [bucket.take() for _ in range(4)]
    assert [q.allowed for q in decisions] == [True, True, True, False]
    assert [q.remaining for q in decisions] == [2, 1, 0, 0]
    assert decisions[-1].limit == 3 and decisions[-1].reset_s == 2  # 3 tokens at 2/s: 1.5 s, rounded up
    clock.now_s += 0.5  # one token back
    assert [bucket.take().allowed, bucket.take().allowed] == [True, False]
    clock.now_s += 60  # never more than the capacity
    assert [bucket.take().allowed for _ in range(4)] == [True, True, True, False]


def test_a_full_bucket_reports_zero_seconds_to_reset() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=0.5, capacity=1, clock=clock)
    assert bucket.take().reset_s == 2
    clock.now_s += 2
    assert bucket.take().reset_s == 2  # refilled, then this request took the token again


def test_a_concurrency_slot_is_refused_above_the_limit_and_released_after_the_block() -> None:
    counter = ConcurrencyCounter()
    with counter.slot("k", 2) as first, counter.slot("k", 2) as second, counter.slot("k", 2) as third:
        assert (first, second, third) == (1, 0, None)
        assert counter.in_flight("k") == 2
        with counter.slot("other", 2) as elsewhere:
            assert elsewhere == 1  # keys are independent
    assert counter.in_flight("k") == 0 and counter.peaks() == {"k": 2, "other": 1}
    with pytest.raises(RuntimeError), counter.slot("k", 2):
        raise RuntimeError("handler failed")
    assert counter.in_flight("k") == 0


def test_faults_replay_with_the_same_seed_and_respect_the_rates() -> None:
    settings = SandboxSettings(fail_rate_5xx=0.2, fail_rate_429=0.2, timeout_rate=0.2, timeout_sleep_s=9.0)

    def draws(seed: int | None, settings: SandboxSettings = settings) -> list[Fault]:
        faults = FaultInjector(seed)
        return [faults.draw(settings) for _ in range(300)]

    runs = [draws(7), draws(7)]
    assert runs[0] == runs[1] != draws(8)
    kinds = [f.kind for f in runs[0]]
    assert 30 < kinds.count("5xx") < 90 and 20 < kinds.count("429") < 80
    assert any(f == Fault(None, 9.0) for f in runs[0]) and Fault() in runs[0]
    assert set(draws(None, SandboxSettings())) == {Fault()}


def test_an_outage_refuses_everything_until_it_ends() -> None:
    settings = SandboxSettings(down_until_epoch_s=2000.0)
    faults = FaultInjector(1)
    assert faults.draw(settings, now_s=1999.0) == Fault("down")
    assert faults.draw(settings, now_s=2000.0) == Fault()


# --- Kombo over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxSettings(kombo_pending_s=0.1, kombo_api_keys=("key-1", "key-2"))) as server:
        yield server


@pytest.fixture
def kombo(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    headers = {**HEADERS, "Authorization": "Bearer key-1"}
    with httpx.Client(base_url=sandbox.url + "/kombo/v1", headers=headers, timeout=5) as client:
        yield client


def test_past_the_rate_every_kombo_request_gets_429_with_ratelimit_headers(
    kombo: httpx.Client, sandbox: SandboxServer
) -> None:
    # Given 2 requests/s per API key (bucket of 2), spent by a POST and a poll
    sandbox.settings.kombo_rate_per_s = 2.0
    task_id = kombo.post("/lms/courses/bulk", json=body("a")).json()["data"]["task_id"]
    poll = kombo.get(f"/lms/courses/bulk/{task_id}")
    # When a third request comes at once
    limited = kombo.get("/lms/courses")
    # Then it is refused as Kombo does, with headers that say when to come back
    assert poll.headers["ratelimit-remaining"] == "0"
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "PLATFORM.RATE_LIMIT_EXCEEDED"
    assert validator("kombo", "ErrorEnvelope").is_valid(limited.json())
    assert (limited.headers["ratelimit-limit"], limited.headers["ratelimit-remaining"]) == ("2", "0")
    assert limited.headers["ratelimit-reset"] == "1"
    assert "retry-after" not in limited.headers  # Kombo documents none
    # And another API key has its own bucket, and the first one refills
    kombo.headers["Authorization"] = "Bearer key-2"
    assert kombo.get("/lms/courses").status_code == 200
    kombo.headers["Authorization"] = "Bearer key-1"
    time.sleep(0.55)
    assert kombo.get("/lms/courses").status_code == 200
    assert sandbox.state.stats()["rate_limited"] == 1


def test_a_burst_setting_sizes_the_bucket(kombo: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.state.update_settings({"kombo_rate_per_s": 1, "kombo_rate_burst": 5})
    statuses = [kombo.get("/lms/courses").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_posts_in_flight_above_the_limit_get_concurrency_429_and_polls_do_not(sandbox: SandboxServer) -> None:
    # Given 2 action slots per integration and answers that take 0.3 s
    sandbox.state.update_settings({"kombo_concurrency_limit": 2, "latency_s": 0.3})
    url = sandbox.url + "/kombo/v1/lms/courses/bulk"
    headers = {**HEADERS, "Authorization": "Bearer key-1"}

    def post(n: int) -> httpx.Response:
        return httpx.post(url, json=body(f"c{n}"), headers=headers, timeout=5)

    def poll(n: int) -> httpx.Response:
        return httpx.get(f"{url}/no-such-task", headers=headers, timeout=5)

    # When 5 POSTs and 5 polls arrive together
    with ThreadPoolExecutor(10) as pool:
        posts = list(pool.map(post, range(5)))
        polls = list(pool.map(poll, range(5)))
    # Then 2 POSTs pass and 3 are refused with Kombo's concurrency code; polls are not actions
    assert sorted(r.status_code for r in posts) == [200, 200, 429, 429, 429]
    refused = [r for r in posts if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {"PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"}
    assert {(r.headers["Concurrency-Limit"], r.headers["Concurrency-Remaining"]) for r in refused} == {
        ("2", "0")
    }
    assert [r.status_code for r in polls] == [404] * 5
    assert sandbox.state.stats()["in_flight_peak"] == {"kombo:sandbox:coursesync-demo": 2}


def test_injected_faults_replay_with_the_same_seed(sandbox: SandboxServer) -> None:
    def statuses(seed: int) -> list[int]:
        settings = SandboxSettings(seed=seed, fail_rate_5xx=0.3, fail_rate_429=0.3)
        with SandboxServer(settings) as server, httpx.Client(headers=HEADERS) as client:
            return [client.get(server.url + "/kombo/v1/lms/courses").status_code for _ in range(30)]

    first, again = statuses(3), statuses(3)
    assert first == again and {200, 429, 503} <= set(first)


def test_injected_errors_use_kombos_envelope(kombo: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.state.update_settings({"fail_rate_5xx": 1.0})
    unavailable = kombo.post("/lms/courses/bulk", json=body("a"))
    sandbox.state.update_settings({"fail_rate_5xx": 0.0, "fail_rate_429": 1.0})
    throttled = kombo.get("/lms/courses")
    assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] is None
    assert (
        throttled.status_code == 429 and throttled.json()["error"]["code"] == "PLATFORM.RATE_LIMIT_EXCEEDED"
    )
    for resp in (unavailable, throttled):
        assert validator("kombo", "ErrorEnvelope").is_valid(resp.json())
    assert sandbox.state.stats()["kombo"]["tasks_created"] == 0  # refused before any work


def test_a_timed_out_request_was_processed_so_the_retry_finds_the_same_task(
    kombo: httpx.Client, sandbox: SandboxServer
) -> None:
    # Given every answer held back for 2 s
    sandbox.state.update_settings({"timeout_rate": 1.0, "timeout_sleep_s": 2.0})
    # When the client gives up after 0.3 s
    with pytest.raises(httpx.ReadTimeout):
        kombo.post("/lms/courses/bulk", json=body("a"), timeout=0.3)
    # Then the task exists anyway, and the retry gets it instead of a second one
    assert sandbox.state.stats()["kombo"]["tasks_created"] == 1
    sandbox.state.update_settings({"timeout_rate": 0.0})
    assert kombo.post("/lms/courses/bulk", json=body("a")).status_code == 200
    assert sandbox.state.stats()["kombo"]["idempotent_replays"] == 1


def test_an_outage_answers_503_until_it_ends(kombo: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.state.update_settings({"down_until_epoch_s": time.time() + 0.3})
    assert [
        kombo.get("/lms/courses").status_code,
        kombo.post("/lms/courses/bulk", json=body("a")).status_code,
    ] == [
        503,
        503,
    ]
    time.sleep(0.35)
    assert kombo.get("/lms/courses").status_code == 200


def test_latency_is_added_to_every_provider_request(kombo: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.state.update_settings({"latency_s": 0.2})
    for method, path, payload in [("GET", "/lms/courses", None), ("POST", "/lms/courses/bulk", body("a"))]:
        start = time.monotonic()
        kombo.request(method, path, json=payload)
        assert time.monotonic() - start >= 0.2
    start = time.monotonic()
    httpx.get(sandbox.url + "/_sandbox/health")  # control endpoints are not providers
    assert time.monotonic() - start < 0.2
