"""The sandbox's Kombo behaves as providers.md §1 and Kombo's own schemas say, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from schemas.vendored import describe_errors, validator

KEY = "sandbox-kombo-key"
INTEGRATION = "sandbox:coursesync-demo"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Integration-Id": INTEGRATION}
PENDING_S = 0.2


def item(origin: str, url: str = "https://learn.example/c", **course: Any) -> dict[str, Any]:
    fields = {"type": "EXTERNAL", "title": f"Course {origin}", "course_url": url, **course}
    return {"origin_id": origin, "course": fields}


def assert_valid(schema: str, doc: Any) -> None:
    errors = [e.message for e in validator("kombo", schema).iter_errors(doc)]
    assert errors == [], errors


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    settings = SandboxSettings(kombo_pending_s=PENDING_S, kombo_integrations=(INTEGRATION, "other:tenant"))
    with SandboxServer(settings) as server:
        yield server


@pytest.fixture
def kombo(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/kombo/v1", headers=HEADERS, timeout=5) as client:
        yield client


def submit(client: httpx.Client, *items: dict[str, Any]) -> str:
    resp = client.post("/lms/courses/bulk", json={"items": list(items)})
    assert resp.status_code == 200, resp.text
    task_id: str = resp.json()["data"]["task_id"]
    return task_id


def completed(client: httpx.Client, task_id: str) -> dict[str, Any]:
    time.sleep(PENDING_S + 0.05)
    doc: dict[str, Any] = client.get(f"/lms/courses/bulk/{task_id}").json()
    assert doc["data"]["status"] == "COMPLETED"
    return doc


def test_a_valid_body_gets_http_200_with_a_task_id_in_kombos_shape(kombo: httpx.Client) -> None:
    resp = kombo.post("/lms/courses/bulk", json={"items": [item("a")]})
    assert resp.status_code == 200
    assert_valid("PostLmsCoursesBulkPositiveResponse", resp.json())
    assert resp.json()["warnings"] == []
    assert resp.headers["Concurrency-Limit"] == "30" and resp.headers["Concurrency-Remaining"] == "29"
    assert "ratelimit-limit" not in resp.headers  # no rate configured


def test_a_task_is_pending_then_completed_with_one_result_per_item(kombo: httpx.Client) -> None:
    # Given a body with an item the remote LMS accepts and one on a .invalid host
    task_id = submit(kombo, item("ok"), item("bad", "https://lms.invalid/c"))
    # When it is polled at once, then after kombo_pending_s
    pending = kombo.get(f"/lms/courses/bulk/{task_id}").json()
    done = completed(kombo, task_id)
    # Then it was PENDING, then COMPLETED with each item's outcome, both in Kombo's schema
    assert pending["data"]["status"] == "PENDING" and pending["data"]["completed_at"] is None
    assert_valid("GetLmsCoursesBulkTaskIdPositiveResponse", pending)
    assert_valid("GetLmsCoursesBulkTaskIdPositiveResponse", done)
    ok, bad = done["data"]["data"]
    assert ok["origin_id"] == "ok" and ok["status"] == "SUCCEEDED" and len(ok["data"]["id"]) == 24
    assert bad == {
        "origin_id": "bad",
        "status": "FAILED",
        "error": {
            "code": "REMOTE.INPUT_INVALID",
            "title": "Remote input invalid",
            "message": "The LMS rejected the course: course_url host 'lms.invalid' does not resolve",
            "log_url": None,
        },
    }
    assert done["data"]["completed_at"] >= done["data"]["created_at"]


def test_course_ids_are_stable_per_integration_and_origin(kombo: httpx.Client) -> None:
    first = completed(kombo, submit(kombo, item("a")))["data"]["data"][0]["data"]["id"]
    again = completed(kombo, submit(kombo, item("a", title="Renamed")))["data"]["data"][0]["data"]["id"]
    kombo.headers["X-Integration-Id"] = "other:tenant"
    other = completed(kombo, submit(kombo, item("a")))["data"]["data"][0]["data"]["id"]
    assert first == again != other


def test_the_same_body_returns_the_same_task_and_creates_no_second_one(
    kombo: httpx.Client, sandbox: SandboxServer
) -> None:
    # Given one body, sent again byte for byte and once re-serialised with other key order
    body = {"items": [item("a"), item("b")]}
    first = submit(kombo, *body["items"])
    second = kombo.post("/lms/courses/bulk", json=body).json()["data"]["task_id"]
    reordered = (
        b'{"items":['
        + b",".join(
            b'{"course":{"course_url":"https://learn.example/c","title":"Course %s","type":"EXTERNAL"},'
            b'"origin_id":"%s"}' % (o, o)
            for o in (b"a", b"b")
        )
        + b"]}"
    )
    third = kombo.post("/lms/courses/bulk", content=reordered).json()["data"]["task_id"]
    # And the same body for another integration
    kombo.headers["X-Integration-Id"] = "other:tenant"
    elsewhere = submit(kombo, *body["items"])
    # Then one task per integration, and the replays are counted
    assert first == second == third != elsewhere
    stats = sandbox.state.stats()["kombo"]
    assert (stats["tasks_created"], stats["idempotent_replays"]) == (2, 2)
    assert (stats["items_received"], stats["distinct_ids"]) == (4, 2)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"X-Integration-Id": INTEGRATION}, 401, "PLATFORM.AUTHENTICATION_INVALID"),
        (
            {"Authorization": "Bearer wrong", "X-Integration-Id": INTEGRATION},
            401,
            "PLATFORM.AUTHENTICATION_INVALID",
        ),
        (
            {"Authorization": f"Basic {KEY}", "X-Integration-Id": INTEGRATION},
            401,
            "PLATFORM.AUTHENTICATION_INVALID",
        ),
        ({"Authorization": f"Bearer {KEY}"}, 400, "PLATFORM.INPUT_INVALID"),
        (
            {"Authorization": f"Bearer {KEY}", "X-Integration-Id": "nope:1"},
            404,
            "PLATFORM.INTEGRATION_NOT_FOUND",
        ),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/lms/courses/bulk"), ("GET", "/lms/courses/bulk/t1")])
def test_credentials_and_integration_are_checked_on_every_route(
    sandbox: SandboxServer, headers: dict[str, str], status: int, code: str, method: str, path: str
) -> None:
    body = {"items": [item("a")]} if method == "POST" else None
    resp = httpx.request(method, sandbox.url + "/kombo/v1" + path, json=body, headers=headers)
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code
    assert_valid("ErrorEnvelope", resp.json())
    assert sandbox.state.stats()["kombo"]["tasks_created"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"items": [item("a"), item("b", duration=-5)]},
            "items[1].course.duration: -5 is less than or equal to the minimum of 0",
        ),
        (
            {"items": [item("a", languages=["english"])]},
            "items[0].course.languages[0]: 'english' does not match",
        ),
        (
            {"items": [{"origin_id": "a", "course": {"type": "EXTERNAL", "title": "T"}}]},
            "items[0].course: 'course_url' is a required property",
        ),
        ({"items": [item("a", type="SCORM")]}, "items[0].course.type: 'EXTERNAL' was expected"),
        ({"items": [item("a", title=None)]}, "items[0].course.title: None is not of type 'string'"),
        ({"items": "a"}, "items: 'a' is not of type 'array'"),
        ({"courses": []}, "(body): 'items' is a required property"),
        ([1], "(body): [1] is not of type 'object'"),
        (
            {"items": [item("a"), item("b"), item("a")]},
            "origin_id must be unique within one request; repeated: 'a'",
        ),
    ],
)
def test_invalid_bodies_get_400_naming_the_failing_path(
    kombo: httpx.Client, sandbox: SandboxServer, body: Any, message: str
) -> None:
    resp = kombo.post("/lms/courses/bulk", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert message in resp.json()["error"]["message"]
    assert_valid("ErrorEnvelope", resp.json())
    assert sandbox.state.stats()["kombo"]["tasks_created"] == 0


def test_the_message_names_the_first_three_problems_in_body_order(kombo: httpx.Client) -> None:
    body = {"items": [item(str(i), duration=-i - 1) for i in range(12)]}
    message = kombo.post("/lms/courses/bulk", json=body).json()["error"]["message"]
    assert [m in message for m in ("items[0]", "items[1]", "items[2]", "items[3]")] == [
        True,
        True,
        True,
        False,
    ]
    assert message.endswith("(and 9 more)")


def test_a_body_that_is_not_json_gets_400(kombo: httpx.Client) -> None:
    resp = kombo.post("/lms/courses/bulk", content=b'{"items": [')
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]["message"]


def test_more_items_than_the_maximum_get_400_stating_the_maximum(
    kombo: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.settings.kombo_max_items = 3
    assert (
        kombo.post("/lms/courses/bulk", json={"items": [item(str(i)) for i in range(3)]}).status_code == 200
    )
    resp = kombo.post("/lms/courses/bulk", json={"items": [item(str(i)) for i in range(4)]})
    assert resp.status_code == 400
    assert "at most 3 items are allowed per request, got 4" in resp.json()["error"]["message"]


def test_an_unknown_task_or_another_integrations_task_is_404(kombo: httpx.Client) -> None:
    task_id = submit(kombo, item("a"))
    assert kombo.get("/lms/courses/bulk/no-such-task").status_code == 404
    kombo.headers["X-Integration-Id"] = "other:tenant"
    resp = kombo.get(f"/lms/courses/bulk/{task_id}")
    assert resp.status_code == 404
    assert_valid("ErrorEnvelope", resp.json())


def test_courses_reach_the_store_only_when_their_task_completes(kombo: httpx.Client) -> None:
    # Given a task with a good and a rejected item, then an update of the good one
    task_id = submit(kombo, item("a"), item("b", "https://x.invalid/"))
    assert kombo.get("/lms/courses").json()["data"]["results"] == []  # still PENDING
    completed(kombo, task_id)
    completed(kombo, submit(kombo, item("a", title="New title")))
    # Then only the accepted course exists, updated in place
    (course,) = kombo.get("/lms/courses").json()["data"]["results"]
    assert course["origin_id"] == "a" and course["remote_data"] == {"sandbox": {"upserts": 2}}
    assert course["revisions"][0]["title"] == "New title" and course["revisions"][0]["status"] == "ACTIVE"


def test_deactivate_by_kombo_id_or_remote_origin_marks_the_course_inactive(kombo: httpx.Client) -> None:
    completed(kombo, submit(kombo, item("a"), item("b")))
    by_origin = kombo.post("/lms/courses/remote:a/deactivate", json={})
    course_b = kombo.get("/lms/courses").json()["data"]["results"][1]
    by_id = kombo.post(f"/lms/courses/{course_b['id']}/deactivate", json={})
    by_remote_id = kombo.post(f"/lms/courses/remote:{course_b['remote_id']}/deactivate", json={})
    for resp in (by_origin, by_id, by_remote_id):
        assert resp.status_code == 200
        assert_valid("PostLmsCoursesCourseIdDeactivatePositiveResponse", resp.json())
        assert resp.json()["data"]["revisions"][0]["status"] == "INACTIVE"
    assert by_origin.json()["data"]["origin_id"] == "a" and by_id.json()["data"]["origin_id"] == "b"
    assert by_origin.headers["Concurrency-Limit"] == "30"  # deactivate is an action too
    missing = kombo.post("/lms/courses/remote:zzz/deactivate", json={})
    assert missing.status_code == 404
    assert_valid("ErrorEnvelope", missing.json())


def test_listing_pages_through_courses_and_filters_by_ids(kombo: httpx.Client) -> None:
    completed(kombo, submit(kombo, *(item(f"c{i}") for i in range(5))))
    first = kombo.get("/lms/courses", params={"page_size": 2}).json()["data"]
    second = kombo.get("/lms/courses", params={"page_size": 2, "cursor": first["next"]}).json()["data"]
    last = kombo.get("/lms/courses", params={"page_size": 2, "cursor": second["next"]}).json()["data"]
    origins = [c["origin_id"] for page in (first, second, last) for c in page["results"]]
    assert origins == [f"c{i}" for i in range(5)] and last["next"] is None
    wanted = first["results"][1]["id"]
    filtered = kombo.get("/lms/courses", params={"ids": f"{wanted},unknown"}).json()["data"]["results"]
    assert [c["id"] for c in filtered] == [wanted]
    assert kombo.get("/lms/courses", params={"page_size": 251}).status_code == 400


def test_framework_errors_use_kombos_envelope(kombo: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.settings.max_body_bytes = 100
    too_large = kombo.post("/lms/courses/bulk", json={"items": [item("a" * 200)]})
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
    no_route = kombo.get("/lms/nothing")
    wrong_method = kombo.delete("/lms/courses/bulk")
    assert (no_route.status_code, wrong_method.status_code) == (404, 405)
    assert wrong_method.headers["Allow"] == "POST"
    for resp in (too_large, no_route, wrong_method):
        assert_valid("ErrorEnvelope", resp.json())
    assert kombo.get("/lms/courses").status_code == 200  # the connection survived the 413


def test_a_1000_item_body_is_validated_by_one_validator_built_once() -> None:
    # Building a jsonschema validator costs far more than using it; rebuilding it per request
    # would make every sandbox answer slow. Speed itself is measured in bench/, not here.
    body = {
        "items": [
            item(f"c{i}", description="d" * 80, duration=45, languages=["en", "de-CH"]) for i in range(1000)
        ]
    }
    body["items"][999]["course"]["duration"] = -5
    built = validator("kombo", "PostLmsCoursesBulkRequestBody")
    reasons, count = describe_errors("kombo", "PostLmsCoursesBulkRequestBody", body)
    assert count == 1 and reasons[0].startswith("items[999].course.duration:")
    assert validator("kombo", "PostLmsCoursesBulkRequestBody") is built


# --- FAILED tasks and whole-request refusals ---------------------------------------------------


def finished(client: httpx.Client, task_id: str) -> dict[str, Any]:
    time.sleep(PENDING_S + 0.05)
    doc: dict[str, Any] = client.get(f"/lms/courses/bulk/{task_id}").json()
    return doc


def test_a_task_can_end_failed_with_a_code_and_processes_nothing(
    sandbox: SandboxServer, kombo: httpx.Client
) -> None:
    # Given every task set to fail with INTEGRATION.INACTIVE (through the control API)
    config = httpx.post(
        sandbox.url + "/_sandbox/config",
        json={"kombo_task_fail_rate": 1.0, "kombo_task_fail_code": "INTEGRATION.INACTIVE"},
    )
    assert config.status_code == 200
    # When a task finishes
    doc = finished(kombo, submit(kombo, item("a")))
    # Then it is FAILED in Kombo's documented shape, and no course was written
    assert_valid("GetLmsCoursesBulkTaskIdPositiveResponse", doc)
    assert doc["data"]["status"] == "FAILED" and doc["data"]["error"]["code"] == "INTEGRATION.INACTIVE"
    assert kombo.get("/lms/courses").json()["data"]["results"] == []
    assert httpx.get(sandbox.url + "/_sandbox/stats").json()["kombo"]["tasks_failed"] == 1


def test_a_failed_task_is_not_replayed_the_same_body_makes_a_new_task(
    sandbox: SandboxServer, kombo: httpx.Client
) -> None:
    # Given tasks that fail when an item's origin_id carries a marker
    sandbox.settings.kombo_task_fail_marker = "#fail"
    first = submit(kombo, item("a#fail"), item("b"))
    assert submit(kombo, item("a#fail"), item("b")) == first  # still pending: the same task
    assert finished(kombo, first)["data"]["error"]["code"] == "PLATFORM.TASK_TIMED_OUT"
    # When the same body is sent after the task FAILED
    sandbox.settings.kombo_task_fail_marker = None
    second = submit(kombo, item("a#fail"), item("b"))
    # Then it is a new task, which completes
    assert second != first
    assert finished(kombo, second)["data"]["status"] == "COMPLETED"


def test_unmarked_tasks_complete_when_only_a_marker_is_set(
    sandbox: SandboxServer, kombo: httpx.Client
) -> None:
    sandbox.settings.kombo_task_fail_marker = "#fail"
    assert finished(kombo, submit(kombo, item("plain")))["data"]["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (item("b", rating=5), "items[1].course: unknown field 'rating' (origin_id 'b')"),
        ({**item("b"), "priority": 1}, "items[1]: unknown field 'priority' (origin_id 'b')"),
        (
            item("b", duration="45"),
            "items[1].course.duration: '45' is not of type 'integer', 'null' (origin_id 'b')",
        ),
    ],
)
def test_one_bad_item_refuses_the_whole_request_naming_it(
    kombo: httpx.Client, bad: Any, fragment: str
) -> None:
    resp = kombo.post("/lms/courses/bulk", json={"items": [item("a"), bad, item("c")]})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert fragment in resp.json()["error"]["message"]


def test_unknown_fields_may_be_accepted(sandbox: SandboxServer, kombo: httpx.Client) -> None:
    sandbox.settings.kombo_unknown_fields = "ignore"
    assert kombo.post("/lms/courses/bulk", json={"items": [item("a", rating=5)]}).status_code == 200
