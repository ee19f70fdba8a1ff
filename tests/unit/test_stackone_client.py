"""StackOne client against httpx.MockTransport: Basic auth, per-item errors by index, no job."""

from __future__ import annotations

import base64
import json
from typing import Any

import fakeredis
import httpx
import pytest

from workers.connections import Connection
from workers.errors import (
    UNVERIFIED,
    AuthError,
    NotFound,
    PermanentError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    TransientError,
    UnverifiedAnswer,
)
from workers.providers.base import OutboundItem
from workers.providers.installed import get_plugin
from workers.providers.stackone.answers import ITEM_REJECTED
from workers.providers.stackone.client import StackOneProvider

BASE_URL = "http://127.0.0.1:9/stackone"


def items(*ids: str) -> list[OutboundItem]:
    return [OutboundItem(i, "d", {"external_reference": i, "title": f"T {i}"}) for i in ids]


def provider(handler: Any, **options: Any) -> StackOneProvider:
    opts = {"api_key": "secret-key", "account_id": "acct-1", **options}
    conn = Connection("acme", "stackone", BASE_URL, opts, None, get_plugin("stackone").spec)
    return StackOneProvider(
        conn, httpx.Client(transport=httpx.MockTransport(handler)), fakeredis.FakeRedis(decode_responses=True)
    )


def accepted(errors: Any) -> httpx.Response:
    body = {
        "statusCode": 202,
        "message": "Batch operation accepted",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "errors": errors,
    }
    return httpx.Response(202, json=body)


def failure(status: int, message: str = "explained", **extra: Any) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "timestamp": "2026-11-23T10:00:00.000Z", **extra}


def test_submit_posts_the_items_with_basic_auth_and_the_account_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return accepted([[], []])

    batch = items("c1", "c2")
    sub = provider(handler).submit("upsert", batch)
    (req,) = seen
    assert req.method == "POST" and req.url.path == "/stackone/unified/lms/content/batch"
    # The key is the Basic user and the password is empty: base64("secret-key:").
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"secret-key:").decode()
    assert req.headers["x-account-id"] == "acct-1"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == {"items": [i.payload for i in batch]}
    # StackOne has no job: every item is settled by the answer itself.
    assert sub.job_ref is None
    assert [(r.item_id, r.ok) for r in sub.results] == [("c1", True), ("c2", True)]


def test_per_item_errors_fail_exactly_those_items_with_stackones_messages() -> None:
    errors = [[], ["Missing field: title", "content_url: bad host"], [], ["Duplicate"]]
    sub = provider(lambda req: accepted(errors)).submit("upsert", items("a", "b", "c", "d"))
    assert [(r.item_id, r.ok, r.code, r.message) for r in sub.results] == [
        ("a", True, None, None),
        ("b", False, ITEM_REJECTED, "Missing field: title; content_url: bad host"),
        ("c", True, None, None),
        ("d", False, ITEM_REJECTED, "Duplicate"),
    ]


@pytest.mark.parametrize("errors", [[], [[], []]])
def test_no_errors_or_one_empty_list_per_item_mean_every_item_was_accepted(errors: Any) -> None:
    sub = provider(lambda req: accepted(errors)).submit("upsert", items("a", "b"))
    assert [r.ok for r in sub.results] == [True, True]


def test_error_lists_that_cannot_be_matched_to_items_are_unverified() -> None:
    # Given three items but two error lists (which list is whose?)
    answer = accepted([["Missing field: title"], []])
    # Then no item is claimed as accepted: the whole answer is unverified, saying why
    with pytest.raises(UnverifiedAnswer, match="2 error lists for 3 items") as info:
        provider(lambda req: answer).submit("upsert", items("a", "b", "c"))
    assert "Missing field: title" in info.value.message and info.value.status_code == 202


def model(**changes: Any) -> dict[str, Any]:
    body = {
        "statusCode": 202,
        "message": "Batch operation accepted",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "errors": [[], []],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not DROP}


DROP = object()


@pytest.mark.parametrize(
    ("response", "why"),
    [
        (httpx.Response(202, text="accepted"), "not a JSON object"),
        (httpx.Response(202, json=["not", "an", "object"]), "not a JSON object"),
        (httpx.Response(202, json=model(errors="oops")), "errors is not a list"),
        (httpx.Response(202, json=model(errors=None)), "errors is not a list"),
        (httpx.Response(202, json=model(errors=DROP)), "errors is not a list"),
        (httpx.Response(202, json=model(errors=7)), "errors is not a list"),
        (httpx.Response(202, json=model(errors=[["ok"], "nope"])), "one list of strings per item"),
        (httpx.Response(202, json=model(errors=[[1], []])), "one list of strings per item"),
        (httpx.Response(202, json=model(errors=[None, []])), "one list of strings per item"),
        (httpx.Response(202, json=model(errors=[[]])), "1 error lists for 2 items"),
        (httpx.Response(202, json=model(errors=[[], [], []])), "3 error lists for 2 items"),
        (httpx.Response(202, json=model(statusCode=400)), "disagrees with HTTP 202"),
        (httpx.Response(202, json=model(statusCode="202")), "disagrees with HTTP 202"),
        (httpx.Response(202, json=model(statusCode=True)), "disagrees with HTTP 202"),
        (httpx.Response(200, json=model()), "not the documented 202"),
        (httpx.Response(202, json=model(errors=[], statusCode=DROP)), "model is not intact"),
        (httpx.Response(202, json=model(errors=[], message=None)), "model is not intact"),
        (httpx.Response(202, json=model(errors=[], timestamp=17)), "model is not intact"),
        (httpx.Response(202, json={"errors": []}), "model is not intact"),
    ],
)
def test_an_answer_in_any_other_shape_is_unverified_so_no_item_counts(
    response: httpx.Response, why: str
) -> None:
    # StackOne has no job, so an unverified answer may be sent again (resend_safe)
    with pytest.raises(UnverifiedAnswer, match=why) as info:
        provider(lambda req: response).submit("upsert", items("a", "b"))
    assert info.value.code == UNVERIFIED and info.value.provider == "stackone"
    assert StackOneProvider.resend_safe


def test_poll_explains_that_there_is_nothing_to_poll() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("poll must not call StackOne")

    with pytest.raises(PermanentError, match="no batch job or status endpoint"):
        provider(handler).poll("anything")


@pytest.mark.parametrize(
    ("status", "headers", "cls", "fragment"),
    [
        (400, {}, ProviderRejected, None),
        (401, {}, AuthError, "check api_key"),
        (403, {}, AuthError, "Full Access key"),
        (404, {}, NotFound, "check account_id"),
        (408, {"Retry-After": "60"}, ProviderUnavailable, None),
        (409, {}, PermanentError, None),
        (412, {}, PermanentError, "re-link it in StackOne"),
        (422, {}, ProviderRejected, None),
        (429, {"Retry-After": "7"}, RateLimited, None),
        (500, {}, ProviderUnavailable, None),
        (501, {}, PermanentError, "cannot upsert content into the LMS behind account_id"),
        (502, {}, ProviderUnavailable, None),
        (503, {"Retry-After": "3"}, ProviderUnavailable, None),
    ],
)
def test_errors_are_classified_by_status_with_what_to_fix(
    status: int, headers: dict[str, str], cls: type, fragment: str | None
) -> None:
    p = provider(lambda req: httpx.Response(status, json=failure(status), headers=headers))
    with pytest.raises(cls) as info:
        p.submit("upsert", items("a"))
    exc = info.value
    assert type(exc) is cls  # 412 and 501 are plain PermanentErrors, not a subclass
    assert exc.status_code == status and exc.provider == "stackone" and exc.connection == "acme"
    assert exc.message.startswith("explained")
    if fragment:
        assert "connection 'acme': " in exc.message and fragment in exc.message
    if "Retry-After" in headers:
        assert isinstance(exc, TransientError) and exc.retry_after_s == float(headers["Retry-After"])


def test_the_lms_answer_behind_a_502_is_part_of_the_message() -> None:
    body = failure(
        502, "Bad Gateway", provider_errors=[{"status": 500, "url": "u", "raw": {"error": "LMS down"}}]
    )
    with pytest.raises(ProviderUnavailable) as info:
        provider(lambda req: httpx.Response(502, json=body)).submit("upsert", items("a"))
    assert info.value.message == 'Bad Gateway (the LMS said: HTTP 500 {"error":"LMS down"})'


def test_a_load_balancer_page_without_json_is_still_transient() -> None:
    with pytest.raises(ProviderUnavailable, match="Bad Gateway"):
        provider(lambda req: httpx.Response(502, text="<html>bad gateway</html>")).submit(
            "upsert", items("a")
        )


def test_network_failures_become_provider_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderUnavailable, match="connection failed"):
        provider(handler).submit("upsert", items("a"))


def test_the_api_key_is_read_at_use_and_never_appears_in_errors() -> None:
    p = provider(lambda req: httpx.Response(401, json=failure(401, "Unauthorized")))
    with pytest.raises(AuthError) as info:
        p.submit("upsert", items("a"))
    assert "secret-key" not in str(info.value)
