"""Kombo client against httpx.MockTransport: requests as the spec says, errors by error.code."""

from __future__ import annotations

import json
from typing import Any

import fakeredis
import httpx
import pytest

from tests.unit.helpers import connection
from workers.errors import (
    AuthError,
    ConcurrencyLimited,
    NotFound,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from workers.providers.base import OutboundItem
from workers.providers.kombo import KomboProvider
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
