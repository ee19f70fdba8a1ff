"""Kombo client against httpx.MockTransport: requests as the spec says, errors by error.code."""

from __future__ import annotations

import json
import re
from typing import Any

import fakeredis
import httpx
import pytest

from schemas.vendored import schema
from tests.unit.helpers import connection
from workers.errors import (
    UNVERIFIED,
    AuthError,
    ConcurrencyLimited,
    NotFound,
    PermanentError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    TransientError,
    UnverifiedAnswer,
)
from workers.providers.base import OutboundItem
from workers.providers.kombo.client import KomboProvider
from workers.providers.kombo.errors import CODES
from workers.targets import current_target

ITEM = OutboundItem(
    "c1",
    "d",
    {"origin_id": "c1", "course": {"type": "EXTERNAL", "title": "T", "course_url": "https://a"}},
)


def provider(handler: Any) -> KomboProvider:
    return KomboProvider(
        connection(api_key="secret-key", integration_id="acme:1"),
        httpx.Client(transport=httpx.MockTransport(handler)),
        fakeredis.FakeRedis(decode_responses=True),
    )


def envelope(code: str | None, message: str = "m") -> dict[str, Any]:
    return {
        "status": "error",
        "error": {"code": code, "title": None, "message": message, "log_url": None},
    }


def test_submit_posts_the_items_with_bearer_auth_and_integration_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success", "data": {"task_id": "t-1"}, "warnings": []})

    sub = provider(handler).submit("upsert", [ITEM])
    assert sub.job_ref == "t-1"
    req = seen[0]
    assert req.method == "POST" and req.url.path == "/kombo/v1/lms/courses/bulk"
    assert req.headers["authorization"] == "Bearer secret-key"
    assert req.headers["x-integration-id"] == "acme:1"
    assert json.loads(req.content) == {"items": [ITEM.payload]}


def test_poll_maps_pending_completed_and_failed_tasks() -> None:
    answers = iter(
        [
            {"task_id": "t", "created_at": "x", "status": "PENDING", "completed_at": None},
            {
                "task_id": "t", "created_at": "x", "status": "COMPLETED", "completed_at": "y",
                "data": [
                    {"origin_id": "a", "status": "SUCCEEDED", "data": {"id": "k1"}},
                    {"origin_id": "b", "status": "FAILED", "error": {"code": "REMOTE.INPUT_INVALID", "title": "t", "message": "bad url", "log_url": None}},
                ],
            },
            {"task_id": "t", "created_at": "x", "status": "FAILED", "completed_at": "y", "error": {"code": "INTEGRATION.INACTIVE", "message": "gone"}},
        ]
    )  # fmt: skip
    p = provider(lambda req: httpx.Response(200, json={"status": "success", "data": next(answers)}))
    assert p.poll("t").state == "pending"
    done = p.poll("t")
    assert done.state == "done"
    assert [(x.item_id, x.ok, x.code, x.message, x.remote_id) for x in done.results] == [
        ("a", True, None, None, "k1"),
        ("b", False, "REMOTE.INPUT_INVALID", "bad url", None),
    ]
    failed = p.poll("t")
    assert (failed.state, failed.code, failed.reason) == ("failed", "INTEGRATION.INACTIVE", "gone")


@pytest.mark.parametrize(
    ("status", "code", "headers", "cls"),
    [
        (429, "PLATFORM.RATE_LIMIT_EXCEEDED", {"ratelimit-reset": "7"}, RateLimited),
        (429, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", {}, ConcurrencyLimited),
        (401, "PLATFORM.AUTHENTICATION_INVALID", {}, AuthError),
        (404, "PLATFORM.INTEGRATION_NOT_FOUND", {}, NotFound),
        (400, "PLATFORM.INPUT_INVALID", {}, ProviderRejected),
        (503, None, {"retry-after": "3"}, ProviderUnavailable),
        # Kombo moved codes between statuses before: the code decides.
        (400, "REMOTE.SERVICE_UNAVAILABLE", {}, ProviderUnavailable),
        (503, "PLATFORM.RATE_LIMIT_EXCEEDED", {}, RateLimited),
    ],
)
def test_errors_are_classified_by_code_first(
    status: int, code: str | None, headers: dict[str, str], cls: type
) -> None:
    p = provider(lambda req: httpx.Response(status, json=envelope(code, "explained"), headers=headers))
    with pytest.raises(cls) as info:
        p.submit("upsert", [ITEM])
    assert info.value.status_code == status and info.value.code == code
    assert "explained" in info.value.message
    if "ratelimit-reset" in headers:
        assert info.value.retry_after_s == 7.0
    if "retry-after" in headers:
        assert info.value.retry_after_s == 3.0


def test_auth_and_not_found_errors_tell_the_user_what_to_fix() -> None:
    p = provider(
        lambda req: httpx.Response(401, json=envelope("PLATFORM.AUTHENTICATION_INVALID", "Invalid API key"))
    )
    with pytest.raises(AuthError, match="connection 'acme': check api_key"):
        p.submit("upsert", [ITEM])
    p = provider(
        lambda req: httpx.Response(404, json=envelope("PLATFORM.INTEGRATION_NOT_FOUND", "No integration"))
    )
    with pytest.raises(NotFound, match="check integration_id"):
        p.poll("t")


def test_a_load_balancer_page_without_json_is_still_a_transient_error() -> None:
    p = provider(lambda req: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ProviderUnavailable, match="Bad Gateway"):
        p.submit("upsert", [ITEM])


def test_network_failures_become_provider_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ProviderUnavailable, match="no answer in time"):
        provider(handler).submit("upsert", [ITEM])


def test_deactivation_uses_the_kombo_id_from_the_upsert_result() -> None:
    from workers import keys

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"status": "success", "data": {"id": "kc_1", "origin_id": "c1"}})

    p = provider(handler)
    target = current_target(p._kv, connection(api_key="secret-key", integration_id="acme:1")).id
    p._kv.hset(keys.remote_ids(target, keys.item_bucket("c1")), "c1", "kc_1")
    sub = p.submit(
        "deactivate",
        [OutboundItem("c1", "d", {"origin_id": "c1"}), OutboundItem("c2", "d", {"origin_id": "c2"})],
    )
    assert sub.job_ref is None
    assert seen == ["/kombo/v1/lms/courses/kc_1/deactivate"]
    assert [(r.item_id, r.ok, r.code) for r in sub.results] == [
        ("c1", True, None),
        ("c2", False, "coursesync.UNKNOWN_COURSE"),
    ]


def test_deactivation_never_uses_a_kombo_id_another_integration_gave() -> None:
    from workers import keys

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"status": "success", "data": {}})

    # Given a Kombo id recorded while the connection wrote into integration acme:0
    p = provider(handler)
    before = current_target(p._kv, connection(integration_id="acme:0")).id
    p._kv.hset(keys.remote_ids(before, keys.item_bucket("c1")), "c1", "kc_1")
    # When the connection, now on acme:1, deactivates that course
    sub = p.submit("deactivate", [OutboundItem("c1", "d", {"origin_id": "c1"})])
    # Then nothing is sent: that id means nothing (or another course) in acme:1
    assert seen == [] and sub.results[0].code == "coursesync.UNKNOWN_COURSE"


# --- what an answer proves ------------------------------------------------------------------


def task(status: Any, **fields: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"task_id": "t", "created_at": "x", "status": status, **fields}}


def polled(answer: Any) -> Any:
    return provider(lambda req: httpx.Response(200, json=answer)).poll("t")


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "success", "data": {}},
        {"status": "success", "data": {"task_id": 17}},
        {"status": "success", "data": {"task_id": ""}},
        {"status": "success", "data": [{"task_id": "t-1"}]},
        {"status": "success"},
        ["t-1"],
        None,
    ],
)
def test_an_upsert_answer_without_a_string_task_id_is_unverified(answer: Any) -> None:
    # A task may exist that coursesync cannot name: never a silent success, never a crash
    p = provider(lambda req: httpx.Response(200, json=answer))
    with pytest.raises(UnverifiedAnswer, match="task_id") as info:
        p.submit("upsert", [ITEM])
    assert info.value.code == UNVERIFIED and info.value.connection == "acme"


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "success", "data": None},
        {"status": "success", "data": "COMPLETED"},
        task("DONE"),
        task(None),
        task(["COMPLETED"]),
        task("completed", data=[]),  # Kombo's enum is upper case
        task("COMPLETED"),  # no results at all
        task("COMPLETED", data={"origin_id": "a", "status": "SUCCEEDED"}),
        task("COMPLETED", data=None),
        {"status": "success", "data": {"task_id": "another", "status": "COMPLETED", "data": []}},
        [1, 2, 3],
        12,
    ],
)
def test_an_unreadable_task_status_is_unverified(answer: Any) -> None:
    with pytest.raises(UnverifiedAnswer):
        polled(answer)


def test_only_an_explicit_success_with_an_origin_id_succeeds() -> None:
    # Given results in every shape
    entries = [
        {"origin_id": "ok", "status": "SUCCEEDED", "data": {"id": "k1"}},
        {"origin_id": "ok-no-id", "status": "SUCCEEDED", "data": {"id": 5}},
        {
            "origin_id": "failed",
            "status": "FAILED",
            "error": {"code": "REMOTE.INPUT_INVALID", "message": "bad"},
        },
        {"origin_id": "failed-bare", "status": "FAILED"},
        {"origin_id": "odd", "status": "succeeded"},
        {"origin_id": "no-status"},
        {"status": "SUCCEEDED", "data": {"id": "k9"}},  # whose?
        {"origin_id": 7, "status": "SUCCEEDED"},
        "SUCCEEDED",
        None,
        17,
    ]
    done = polled(task("COMPLETED", data=entries, completed_at="y"))
    # Then only the explicit successes are ok; the rest fail visibly; unattributable ones are skipped
    assert done.state == "done"
    got = {(r.item_id, r.ok, r.code, r.remote_id) for r in done.results}
    assert got == {
        ("ok", True, None, "k1"),
        ("ok-no-id", True, None, None),
        ("failed", False, "REMOTE.INPUT_INVALID", None),
        ("failed-bare", False, "UNKNOWN", None),
        ("odd", False, UNVERIFIED, None),
        ("no-status", False, UNVERIFIED, None),
    }


@pytest.mark.parametrize(
    ("code", "state", "wait"),
    [
        ("PLATFORM.TASK_TIMED_OUT", "retry", None),
        ("PLATFORM.UNKNOWN_ERROR", "retry", None),
        ("REMOTE.SERVICE_UNAVAILABLE", "retry", None),
        ("REMOTE.RATE_LIMIT_EXCEEDED", "retry", None),
        ("INTEGRATION.SETUP_SYNC_PENDING", "retry", 60.0),
        ("INTEGRATION.INACTIVE", "failed", None),
        ("INTEGRATION.SETUP_INCOMPLETE", "failed", None),
        ("INTEGRATION.ACTION_DISABLED", "failed", None),
        ("PLATFORM.AUTHENTICATION_INVALID", "failed", None),
        ("SOMETHING.NEW", "failed", None),
        (None, "failed", None),
    ],
)
def test_a_failed_task_with_a_transient_code_asks_for_the_batch_again(
    code: str | None, state: str, wait: float | None
) -> None:
    status = polled(task("FAILED", error={"code": code, "title": None, "message": "why", "log_url": None}))
    assert (status.state, status.code, status.reason, status.retry_after_s) == (state, code, "why", wait)


def test_a_failed_task_without_an_error_object_still_fails() -> None:
    status = polled(task("FAILED", error="boom"))
    assert status.state == "failed" and status.code is None and status.reason


def test_every_code_of_kombos_enums_for_courses_is_decided() -> None:
    # The codes of the vendored spec's error enums that apply to LMS course endpoints
    spec = json.dumps(schema("kombo", "GetLmsCoursesBulkTaskIdPositiveResponse"))
    enum = set(re.findall(r'"((?:PLATFORM|REMOTE|INTEGRATION|LMS)\.[A-Z_]+)"', spec))
    assert enum <= set(CODES), sorted(enum - set(CODES))
    for code, decided in CODES.items():
        assert decided.why and (decided.wait_s is None or issubclass(decided.cls, TransientError)), code


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("INTEGRATION.SETUP_SYNC_PENDING", ProviderUnavailable),
        ("INTEGRATION.QA_FAILED", PermanentError),
        ("PLATFORM.TASK_TIMED_OUT", ProviderUnavailable),
        ("LMS.COURSE_UPDATE_NOT_SUPPORTED", ProviderRejected),
    ],
)
def test_http_errors_with_newer_codes_are_classified_by_the_table(code: str, cls: type) -> None:
    p = provider(lambda req: httpx.Response(409, json=envelope(code, "explained")))
    with pytest.raises(cls) as info:
        p.submit("upsert", [ITEM])
    assert type(info.value) is cls and info.value.code == code


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ({"status": "success", "data": {"id": "kc_1", "origin_id": "c1"}, "warnings": []}, True),
        ({"status": "success", "data": {"id": "kc_1", "origin_id": None}}, True),
        ({"status": "success", "data": {}}, True),
        ({"status": "success", "data": {"id": "kc_2", "origin_id": "c1"}}, False),
        ({"status": "success", "data": {"id": "kc_1", "origin_id": "other"}}, False),
        ({"status": "success", "data": {"id": 1}}, False),
        ({"status": "success", "data": None}, False),
        ({"status": "success", "data": ["kc_1"]}, False),
        ({"status": "error", "data": {"id": "kc_1"}}, False),
        ({"data": {"id": "kc_1"}}, False),
        ([], False),
        (None, False),
    ],
)
def test_a_deactivation_succeeds_only_on_a_success_envelope_around_our_course(answer: Any, ok: bool) -> None:
    from workers import keys

    p = provider(lambda req: httpx.Response(200, json=answer))
    p._kv.hset(keys.remote_ids(current_target(p._kv, p._conn).id, keys.item_bucket("c1")), "c1", "kc_1")
    (result,) = p.submit("deactivate", [OutboundItem("c1", "d", {"origin_id": "c1"})]).results
    assert result.ok is ok
    assert result.code == (None if ok else UNVERIFIED)


def test_setup_sync_pending_waits_its_default_unless_kombo_gives_a_hint() -> None:
    for headers, wait in (({}, 60.0), ({"retry-after-ms": "2500"}, 2.5)):
        p = provider(
            lambda req, h=headers: httpx.Response(
                503, json=envelope("INTEGRATION.SETUP_SYNC_PENDING"), headers=h
            )
        )
        with pytest.raises(ProviderUnavailable) as info:
            p.submit("upsert", [ITEM])
        assert info.value.retry_after_s == wait
