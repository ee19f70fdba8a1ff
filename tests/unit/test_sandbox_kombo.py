"""The sandbox's Kombo behaves like the documented API: auth, validation, tasks, limits, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from sandbox.specs import validator

KEY = {"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": "sandbox:coursesync-demo"}


def item(origin: str, url: str = "https://a.example/c", **course: Any) -> dict[str, Any]:
    return {
        "origin_id": origin,
        "course": {"type": "EXTERNAL", "title": f"T {origin}", "course_url": url, **course},
    }


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxSettings(kombo_pending_s=0.2, seed=1)).start()
    yield server
    server.stop()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/kombo/v1", headers=KEY, timeout=5) as c:
        yield c


def test_a_task_is_pending_then_completed_with_one_result_per_item(client: httpx.Client) -> None:
    resp = client.post("/lms/courses/bulk", json={"items": [item("a"), item("b", "https://x.invalid/c")]})
    assert resp.status_code == 200
    assert not list(validator("kombo", "PostLmsCoursesBulkPositiveResponse").iter_errors(resp.json()))
    task_id = resp.json()["data"]["task_id"]
    pending = client.get(f"/lms/courses/bulk/{task_id}").json()
    assert pending["data"]["status"] == "PENDING" and pending["data"]["completed_at"] is None
    time.sleep(0.25)
    done = client.get(f"/lms/courses/bulk/{task_id}").json()
    assert not list(validator("kombo", "GetLmsCoursesBulkTaskIdPositiveResponse").iter_errors(done))
    results = {r["origin_id"]: r for r in done["data"]["data"]}
    assert results["a"]["status"] == "SUCCEEDED" and results["a"]["data"]["id"].startswith("kc_")
    assert results["b"]["status"] == "FAILED" and results["b"]["error"]["code"] == "REMOTE.INPUT_INVALID"


def test_the_same_body_for_the_same_integration_returns_the_same_task(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    body = {"items": [item("a"), item("b")]}
    first = client.post("/lms/courses/bulk", json=body).json()["data"]["task_id"]
    second = client.post("/lms/courses/bulk", json=body).json()["data"]["task_id"]
    assert first == second
    stats = sandbox.state.stats()["kombo"]
    assert stats["tasks_created"] == 1 and stats["idempotent_replays"] == 1


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        (
            {"Authorization": "Bearer wrong", "X-Integration-Id": "sandbox:coursesync-demo"},
            401,
            "PLATFORM.AUTHENTICATION_INVALID",
        ),
        ({"Authorization": "Bearer sandbox-kombo-key"}, 400, "PLATFORM.INPUT_INVALID"),
        (
            {"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": "nope:1"},
            404,
            "PLATFORM.INTEGRATION_NOT_FOUND",
        ),
    ],
)
def test_credentials_and_integration_are_checked(
    sandbox: SandboxServer, headers: dict[str, str], status: int, code: str
) -> None:
    resp = httpx.post(
        sandbox.url + "/kombo/v1/lms/courses/bulk", json={"items": [item("a")]}, headers=headers
    )
    assert resp.status_code == status
    assert resp.json() == {
        "status": "error",
        "error": {"code": code, "title": None, "message": resp.json()["error"]["message"], "log_url": None},
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"items": [item("a", duration=-5)]}, "items[0].course.duration"),
        ({"items": [item("a", languages=["english"])]}, "items[0].course.languages[0]"),
        ({"items": [{"origin_id": "a", "course": {"type": "EXTERNAL", "title": "T"}}]}, "course_url"),
        ({"items": [item("a"), item("a")]}, "unique"),
        ({"courses": []}, "items"),
    ],
)
def test_invalid_bodies_are_rejected_in_kombos_error_shape(
    client: httpx.Client, body: dict[str, Any], fragment: str
) -> None:
    resp = client.post("/lms/courses/bulk", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert fragment in resp.json()["error"]["message"]


def test_more_items_than_the_maximum_is_rejected(client: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.settings.kombo_max_items = 3
    resp = client.post("/lms/courses/bulk", json={"items": [item(str(i)) for i in range(4)]})
    assert resp.status_code == 400 and "at most 3 items" in resp.json()["error"]["message"]


def test_past_the_rate_it_answers_429_with_ratelimit_headers(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.settings.kombo_rate_per_s = 2.0
    statuses = [client.get("/lms/courses").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    last = client.get("/lms/courses")
    assert last.json()["error"]["code"] == "PLATFORM.RATE_LIMIT_EXCEEDED"
    assert last.headers["ratelimit-limit"] == "2" and last.headers["ratelimit-remaining"] == "0"
    assert int(last.headers["ratelimit-reset"]) >= 1


def test_too_many_posts_in_flight_get_concurrency_429(sandbox: SandboxServer) -> None:
    sandbox.settings.kombo_concurrency_limit = 2
    sandbox.settings.latency_s = 0.3
    import concurrent.futures

    def post(n: int) -> httpx.Response:
        return httpx.post(
            sandbox.url + "/kombo/v1/lms/courses/bulk",
            json={"items": [item(f"c{n}")]},
            headers=KEY,
            timeout=5,
        )

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(post, range(5)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 2 and codes.count(429) == 3
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json()["error"]["code"] == "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"
    assert limited.headers["Concurrency-Limit"] == "2"


def test_deactivate_marks_the_course_inactive(client: httpx.Client) -> None:
    client.post("/lms/courses/bulk", json={"items": [item("a")]})
    resp = client.post("/lms/courses/remote:a/deactivate", json={})
    assert resp.status_code == 200 and resp.json()["data"]["origin_id"] == "a"
    listed = client.get("/lms/courses", params={"ids": "a"}).json()["data"]["results"]
    assert listed[0]["revisions"][0]["status"] == "INACTIVE"
    assert client.post("/lms/courses/remote:zzz/deactivate", json={}).status_code == 404


def test_control_endpoints_inject_outages_and_report_stats(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    cfg = httpx.post(sandbox.url + "/_sandbox/config", json={"down_until_epoch_s": time.time() + 60})
    assert cfg.status_code == 200
    assert client.get("/lms/courses").status_code == 503
    assert httpx.post(sandbox.url + "/_sandbox/config", json={"no_such": 1}).status_code == 400
    httpx.post(sandbox.url + "/_sandbox/config", json={"down_until_epoch_s": None, "fail_rate_5xx": 1.0})
    assert client.get("/lms/courses").status_code == 503
    stats = httpx.get(sandbox.url + "/_sandbox/stats").json()
    assert stats["statuses"]["503"] == 2
    log = httpx.get(sandbox.url + "/_sandbox/requests", params={"since": 0}).json()["requests"]
    assert [entry[4] for entry in log] == [503, 503]
    httpx.post(sandbox.url + "/_sandbox/reset")
    assert httpx.get(sandbox.url + "/_sandbox/stats").json()["statuses"] == {}
