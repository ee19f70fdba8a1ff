"""The sandbox's StackOne behaves as providers.md §2 and StackOne's own schemas say, over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import fakeredis
import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from schemas.vendored import validator
from workers.connections import Connection
from workers.errors import AuthError, NotFound, PermanentError, RateLimited
from workers.providers.base import OutboundItem
from workers.providers.installed import get_plugin
from workers.providers.stackone.client import StackOneProvider

KEY = "sandbox-stackone-key"
ACCOUNT = "sandbox-account"
BATCH = "/unified/lms/content/batch"


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


HEADERS = {"Authorization": basic(KEY), "x-account-id": ACCOUNT}


def item(ref: str, url: str = "https://learn.example/c", **fields: Any) -> dict[str, Any]:
    return {"external_reference": ref, "title": f"Content {ref}", "content_url": url, **fields}


def assert_valid(schema: str, doc: Any) -> None:
    errors = [e.message for e in validator("stackone", schema).iter_errors(doc)]
    assert errors == [], errors


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    settings = SandboxSettings(stackone_accounts=(ACCOUNT, "other-account"))
    with SandboxServer(settings) as server:
        yield server


@pytest.fixture
def stackone(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/stackone", headers=HEADERS, timeout=5) as client:
        yield client


def listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    resp = client.get("/unified/lms/content", params={"page_size": 1000, **params})
    assert resp.status_code == 200, resp.text
    assert_valid("ContentPaginated", resp.json())
    docs: list[dict[str, Any]] = resp.json()["data"]
    return docs


def test_a_batch_gets_202_with_one_error_list_per_item_in_request_order(
    stackone: httpx.Client, sandbox: SandboxServer
) -> None:
    # Given a good item, one on a host that never resolves, one without a title, another good one
    body = {
        "items": [
            item("a"),
            item("b", "https://gone.invalid/x"),
            {"external_reference": "c", "content_url": "https://learn.example/c"},
            item("d"),
        ]
    }
    # When it is posted
    resp = stackone.post(BATCH, json=body)
    # Then StackOne's BatchResultApiModel holds exactly the refused items' reasons, by index
    assert resp.status_code == 202
    assert_valid("BatchResultApiModel", resp.json())
    doc = resp.json()
    assert (doc["statusCode"], doc["message"]) == (202, "Batch operation accepted")
    assert doc["errors"] == [
        [],
        ["content_url: the LMS could not resolve the host 'gone.invalid'"],
        ["Missing field: title"],
        [],
    ]
    # And only the accepted items reached the store
    assert [c["external_reference"] for c in listed(stackone)] == ["a", "d"]
    stats = sandbox.state.stats()["stackone"]
    assert stats == {
        "batches": 1,
        "items_received": 4,
        "items_rejected": 2,
        "deactivated": 0,
        "distinct_ids": 4,
    }


def test_active_false_deactivates_and_a_later_upsert_reactivates(
    stackone: httpx.Client, sandbox: SandboxServer
) -> None:
    stackone.post(BATCH, json={"items": [item("a"), item("b")]})
    stackone.post(BATCH, json={"items": [item("a", active=False), item("b", active="false")]})
    assert [(c["external_reference"], c["active"]) for c in listed(stackone)] == [("a", False), ("b", False)]
    assert listed(stackone, **{"filter[active]": "true"}) == []
    stackone.post(BATCH, json={"items": [item("a", title="Back", active=True)]})
    (a,) = listed(stackone, **{"filter[active]": "true"})
    assert (a["external_reference"], a["title"], a["active"]) == ("a", "Back", True)
    assert sandbox.state.stats()["stackone"]["deactivated"] == 2
    # StackOne's upsert key keeps the content's ids across updates
    assert a["id"] == listed(stackone)[0]["id"] and len(a["id"]) == 24


def test_content_is_kept_per_linked_account_and_listed_in_stackones_read_model(
    stackone: httpx.Client,
) -> None:
    full = item("a", content_type={"value": "course"}, languages=[{"value": "en_GB"}], duration="PT1H30M")
    stackone.post(BATCH, json={"items": [full, item("v", content_type={"value": "video"})]})
    stackone.headers["x-account-id"] = "other-account"
    assert listed(stackone) == []
    stackone.headers["x-account-id"] = ACCOUNT
    a, v = listed(stackone)
    # The read enum has no "course": a unified read keeps it as the source value.
    assert a["content_type"] == {"value": "unmapped_value", "source_value": "course"}
    assert v["content_type"] == {"value": "video"}
    assert a["languages"] == [{"value": "en_GB"}] and a["duration"] == "PT1H30M"


def test_listing_pages_with_the_next_cursor(stackone: httpx.Client) -> None:
    stackone.post(BATCH, json={"items": [item(f"c{i}") for i in range(30)]})
    first = stackone.get("/unified/lms/content").json()
    second = stackone.get("/unified/lms/content", params={"next": first["next"]}).json()
    assert len(first["data"]) == 25 and len(second["data"]) == 5 and second["next"] is None
    assert stackone.get("/unified/lms/content", params={"page_size": "0"}).status_code == 400


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"x-account-id": ACCOUNT}, 401, "Unauthorized"),
        ({"Authorization": basic("wrong"), "x-account-id": ACCOUNT}, 401, "Unauthorized"),
        ({"Authorization": f"Bearer {KEY}", "x-account-id": ACCOUNT}, 401, "Unauthorized"),
        ({"Authorization": "Basic %%%", "x-account-id": ACCOUNT}, 401, "Unauthorized"),
        ({"Authorization": basic(KEY)}, 404, "no linked account ''"),
        ({"Authorization": basic(KEY), "x-account-id": "nope"}, 404, "no linked account 'nope'"),
        ({"Authorization": basic(KEY), "x-account-id": "sandbox-suspended-account"}, 412, "suspended"),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("POST", BATCH), ("GET", "/unified/lms/content")])
def test_key_and_account_are_checked_on_every_route(
    sandbox: SandboxServer, headers: dict[str, str], status: int, message: str, method: str, path: str
) -> None:
    body = {"items": [item("a")]} if method == "POST" else None
    resp = httpx.request(method, sandbox.url + "/stackone" + path, json=body, headers=headers)
    assert resp.status_code == status and message in resp.json()["message"]
    assert_valid("ErrorResponse", resp.json())
    assert resp.json()["statusCode"] == status
    assert sandbox.state.stats()["stackone"]["batches"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"items": [item("a"), {"title": "x"}]}, "items[1]: 'external_reference' is a required property"),
        (
            {"items": [item("a", languages=[{"value": "en"}])]},
            "items[0].languages[0].value: 'en' is not one of",
        ),
        (
            {"items": [item("a", content_type={"value": "podcast"})]},
            "items[0].content_type.value: 'podcast' is not one of",
        ),
        ({"items": [item("a", tags="x")]}, "items[0].tags: 'x' is not of type 'array'"),
        ({"items": "a"}, "items: 'a' is not of type 'array'"),
        ({"content": []}, "(body): 'items' is a required property"),
    ],
)
def test_bodies_outside_stackones_schema_get_422_naming_the_path(
    stackone: httpx.Client, sandbox: SandboxServer, body: Any, message: str
) -> None:
    resp = stackone.post(BATCH, json=body)
    assert resp.status_code == 422
    assert message in resp.json()["message"]
    assert len(resp.json()["message"]) < 800  # an enum of 412 locales is not quoted whole
    assert_valid("ErrorResponse", resp.json())
    assert sandbox.state.stats()["stackone"]["batches"] == 0 and listed(stackone) == []


def test_more_items_than_the_maximum_get_422_and_bad_json_gets_400(
    stackone: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.settings.stackone_max_items = 3
    assert stackone.post(BATCH, json={"items": [item(str(i)) for i in range(3)]}).status_code == 202
    resp = stackone.post(BATCH, json={"items": [item(str(i)) for i in range(4)]})
    assert resp.status_code == 422
    assert resp.json()["message"] == "items must contain no more than 3 elements, not 4."
    bad = stackone.post(BATCH, content=b'{"items": [')
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["message"]
    assert_valid("ErrorResponse", bad.json())


def test_the_rate_limit_answers_429_with_retry_after_in_seconds(
    stackone: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.settings.stackone_rate_per_s = 0.5  # a bucket of one request, refilled every 2 s
    assert stackone.post(BATCH, json={"items": [item("a")]}).status_code == 202
    limited = stackone.post(BATCH, json={"items": [item("b")]})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert_valid("ErrorResponse", limited.json())
    # The bucket is per API key
    sandbox.settings.stackone_api_keys = (KEY, "second-key")
    other = httpx.post(
        sandbox.url + "/stackone" + BATCH,
        json={"items": [item("c")]},
        headers={"Authorization": basic("second-key"), "x-account-id": ACCOUNT},
    )
    assert other.status_code == 202


def test_framework_errors_and_injected_faults_use_stackones_shape(
    stackone: httpx.Client, sandbox: SandboxServer
) -> None:
    no_route = stackone.get("/unified/lms/nothing")
    wrong_method = stackone.delete(BATCH)
    assert (no_route.status_code, wrong_method.status_code) == (404, 405)
    sandbox.settings.fail_rate_429 = 1.0
    injected = stackone.post(BATCH, json={"items": [item("a")]})
    assert injected.status_code == 429 and injected.headers["Retry-After"] == "1"
    for resp in (no_route, wrong_method, injected):
        assert_valid("ErrorResponse", resp.json())


def provider_for(sandbox: SandboxServer, http: httpx.Client, **options: Any) -> StackOneProvider:
    opts = {"api_key": KEY, "account_id": ACCOUNT, **options}
    conn = Connection("s1", "stackone", sandbox.url + "/stackone", opts, None, get_plugin("stackone").spec)
    return StackOneProvider(conn, http, fakeredis.FakeRedis())


def test_the_client_against_the_sandbox_settles_every_item_at_once(sandbox: SandboxServer) -> None:
    batch = [
        OutboundItem("a", "d", item("a")),
        OutboundItem("b", "d", item("b", "https://x.invalid/")),
        OutboundItem("c", "d", item("c", active=False)),
    ]
    with httpx.Client(timeout=5) as http:
        sub = provider_for(sandbox, http).submit("upsert", batch)
    assert sub.job_ref is None
    assert [(r.item_id, r.ok) for r in sub.results] == [("a", True), ("b", False), ("c", True)]
    assert sub.results[1].message == "content_url: the LMS could not resolve the host 'x.invalid'"
    assert sandbox.state.stats()["stackone"]["deactivated"] == 1


@pytest.mark.parametrize(
    ("options", "settings", "cls", "fragment"),
    [
        ({"api_key": "wrong"}, {}, AuthError, "check api_key"),
        ({"account_id": "nope"}, {}, NotFound, "check account_id"),
        ({"account_id": "sandbox-suspended-account"}, {}, PermanentError, "re-link it in StackOne"),
        ({}, {"fail_rate_429": 1.0}, RateLimited, "Too many requests"),
    ],
)
def test_the_client_turns_the_sandboxs_refusals_into_what_to_fix(
    sandbox: SandboxServer, options: dict[str, str], settings: dict[str, Any], cls: type, fragment: str
) -> None:
    sandbox.state.update_settings(settings)
    with httpx.Client(timeout=5) as http, pytest.raises(cls) as info:
        provider_for(sandbox, http, **options).submit("upsert", [OutboundItem("a", "d", item("a"))])
    assert fragment in info.value.message
    if cls is RateLimited:
        assert info.value.retry_after_s == 1.0
    else:  # what to fix names the connection
        assert "connection 's1'" in info.value.message
