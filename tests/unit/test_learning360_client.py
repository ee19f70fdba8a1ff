"""360Learning client: requests as the API documents them, a fleet-wide encrypted token, errors.

Plain ``httpx.MockTransport`` handlers stand in for 360Learning; the races (one token request
for a fleet, one integration for two workers) run threads against real Redis, and the
integration ones against the sandbox over HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import httpx
import pytest
import redis

from sandbox import SandboxServer, SandboxSettings
from workers import keys
from workers.connections import Connection
from workers.errors import (
    UNVERIFIED,
    AuthError,
    ConcurrencyLimited,
    ConfigError,
    NotFound,
    PermanentError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    UnverifiedAnswer,
)
from workers.providers.base import OutboundItem
from workers.providers.installed import get_plugin
from workers.providers.learning360.client import Learning360Provider

BASE = "https://app.360learning.com"
INTEGRATION = "64a1b2c3d4e5f6a7b8c9d0e1"
CLIENT_ID, SECRET = "client-id-4711", "very-secret-value-0815"
OP = "507f1f77bcf86cd799439011"
OP_URL = f"{BASE}/api/v2/bulk/operations/{OP}"
GROUP, AUTHOR = "5f1a2b3c4d5e6f7a8b9c0d1e", "5f1a2b3c4d5e6f7a8b9c0d1f"
TABLE = {"external_platform": "coursesync", "group_id": GROUP, "author_id": AUTHOR}
COURSE = {
    "externalId": "c1",
    "name": "T",
    "defaultLang": "en",
    "launchUrl": "https://a.example/c1",
    "sources": [{"name": "Acme"}],
    "subjects": ["x"],
}
ITEM = OutboundItem("c1", "d", COURSE)


def conn(base_url: str = BASE, name: str = "acme", **options: Any) -> Connection:
    opts = {"client_id": CLIENT_ID, "client_secret": SECRET, **options}
    if "integration" not in opts:
        opts.setdefault("integration_id", INTEGRATION)
    return Connection(name, "360learning", base_url, opts, None, get_plugin("360learning").spec)


class Api:
    """A scripted 360Learning: issues numbered tokens and answers ``routes[(method, path)]``."""

    def __init__(self, expires_in: float = 3600, token_delay_s: float = 0.0) -> None:
        self.requests: list[httpx.Request] = []
        self.issued = 0
        self.expires_in = expires_in
        self.token_delay_s = token_delay_s
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        if request.url.path.endswith("/api/v2/oauth2/token"):
            time.sleep(self.token_delay_s)
            with self._lock:
                self.issued += 1
                token = f"tok-{self.issued}-Zq9"
            return httpx.Response(
                200, json={"token_type": "Bearer", "access_token": token, "expires_in": self.expires_in}
            )
        return self.routes[(request.method, request.url.path)](request)

    def calls(self, path_end: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(path_end)]


def provider(api: Api, kv: Any = None, connection: Connection | None = None) -> Learning360Provider:
    kv = kv if kv is not None else fakeredis.FakeRedis(decode_responses=True)
    return Learning360Provider(connection or conn(), httpx.Client(transport=httpx.MockTransport(api)), kv)


def accepted(location: str = OP_URL) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(202, headers={"Location": location})


def bulk_api(**kw: Any) -> Api:
    api = Api(**kw)
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = accepted()
    api.routes[("DELETE", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = accepted()
    return api


def redis_dump(kv: Any) -> str:
    """Every key and value of a Redis database, as one string to search."""
    parts = []
    for key in kv.scan_iter():
        kind = kv.type(key)
        value = {"string": kv.get, "hash": kv.hgetall, "list": lambda k: kv.lrange(k, 0, -1),
                 "set": kv.smembers, "zset": lambda k: kv.zrange(k, 0, -1)}[kind](key)  # fmt: skip
        parts.append(f"{key}={value}")
    return "\n".join(parts)


# --- token ------------------------------------------------------------------------------------


def test_submit_gets_a_token_then_puts_the_courses_with_bearer_and_version_headers() -> None:
    api = bulk_api()
    sub = provider(api).submit("upsert", [ITEM])
    token_req, put = api.requests
    assert token_req.method == "POST" and str(token_req.url) == f"{BASE}/api/v2/oauth2/token"
    assert json.loads(token_req.content) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    assert "360-api-version" not in token_req.headers and "authorization" not in token_req.headers
    assert put.method == "PUT" and put.url.path == f"/api/v2/bulk/integrations/{INTEGRATION}/courses"
    assert put.headers["authorization"] == "Bearer tok-1-Zq9"
    assert put.headers["360-api-version"] == "v2.0"
    assert json.loads(put.content) == {"input": [COURSE]}
    assert sub.job_ref == OP_URL and sub.results == ()


def test_two_providers_sharing_redis_make_one_token_request_and_redis_never_sees_it() -> None:
    # Given two workers' provider instances over one Redis
    api, kv = bulk_api(), fakeredis.FakeRedis(decode_responses=True)
    first, second = provider(api, kv), provider(api, kv)
    # When both submit
    first.submit("upsert", [ITEM])
    second.submit("upsert", [ITEM])
    # Then one token served both, and Redis holds it only encrypted, with a TTL under its lifetime
    assert api.issued == 1
    assert [r.headers["authorization"] for r in api.calls("/courses")] == ["Bearer tok-1-Zq9"] * 2
    dump = redis_dump(kv)
    assert keys.oauth_token("acme") in dump
    assert "tok-1-Zq9" not in dump and SECRET not in dump
    assert 3538_000 < kv.pttl(keys.oauth_token("acme")) <= 3540_000


def test_a_token_sealed_with_other_credentials_is_not_used() -> None:
    api, kv = bulk_api(), fakeredis.FakeRedis(decode_responses=True)
    provider(api, kv).submit("upsert", [ITEM])
    rotated = conn(client_secret="rotated-secret")
    provider(api, kv, rotated).submit("upsert", [ITEM])
    assert api.issued == 2
    assert api.calls("/courses")[-1].headers["authorization"] == "Bearer tok-2-Zq9"


def test_a_short_lived_token_is_used_for_half_its_lifetime() -> None:
    api, kv = bulk_api(expires_in=60), fakeredis.FakeRedis(decode_responses=True)
    provider(api, kv).submit("upsert", [ITEM])
    assert 29_000 < kv.pttl(keys.oauth_token("acme")) <= 30_000


def test_a_401_refreshes_the_token_once_and_repeats_the_call_once() -> None:
    # Given a token 360Learning revoked early: the first PUT is refused, the next accepted
    api, kv = Api(), fakeredis.FakeRedis(decode_responses=True)
    answers = iter(
        [
            httpx.Response(401, json={"error": "invalid_token"}),
            httpx.Response(202, headers={"Location": OP_URL}),
        ]
    )
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = lambda r: next(answers)
    # When one batch is submitted
    sub = provider(api, kv).submit("upsert", [ITEM])
    # Then a second token was fetched, the PUT repeated with it, and the fleet shares the new one
    assert sub.job_ref == OP_URL
    assert [r.headers["authorization"] for r in api.calls("/courses")] == [
        "Bearer tok-1-Zq9",
        "Bearer tok-2-Zq9",
    ]
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}")] = lambda r: httpx.Response(
        200, json={"_id": OP, "type": "importExternalCourses", "createdAt": "x", "status": "pending"}
    )
    provider(api, kv).poll(OP_URL)
    assert api.issued == 2 and api.requests[-1].headers["authorization"] == "Bearer tok-2-Zq9"


def test_a_second_401_is_an_auth_error_naming_the_credentials_but_not_their_values() -> None:
    api = Api()
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = lambda r: httpx.Response(
        401, json={"error": "invalid_token"}
    )
    with pytest.raises(AuthError, match="check client_id and client_secret") as info:
        provider(api).submit("upsert", [ITEM])
    assert len(api.calls("/courses")) == 2 and api.issued == 2
    assert SECRET not in str(info.value) and "tok-" not in str(info.value)


def test_refused_client_credentials_are_an_auth_error_without_the_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    p = Learning360Provider(
        conn(), httpx.Client(transport=httpx.MockTransport(handler)), fakeredis.FakeRedis()
    )
    with pytest.raises(AuthError, match=r"invalid_client.*check client_id and client_secret") as info:
        p.submit("upsert", [ITEM])
    assert SECRET not in str(info.value)


def test_a_fleet_needing_a_token_at_once_makes_one_token_request(r: redis.Redis) -> None:
    # Given eight workers without a token and a slow token endpoint
    api = bulk_api(token_delay_s=0.2)
    workers = [provider(api, r) for _ in range(8)]
    errors: list[BaseException] = []

    def submit(p: Learning360Provider) -> None:
        try:
            p.submit("upsert", [ITEM])
        except BaseException as exc:
            errors.append(exc)

    # When all submit at the same moment
    threads = [threading.Thread(target=submit, args=(p,)) for p in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then one of them fetched the token and the others waited for it
    assert errors == [] and api.issued == 1 and len(api.calls("/courses")) == 8


# --- Location, poll ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "location", "expected"),
    [
        (BASE, OP_URL, OP_URL),
        (BASE, f"/api/v2/bulk/operations/{OP}", OP_URL),
        ("http://sb:8/360learning", f"/api/v2/bulk/operations/{OP}", f"http://sb:8/360learning/api/v2/bulk/operations/{OP}"),
        ("http://sb:8/360learning", f"/360learning/api/v2/bulk/operations/{OP}", f"http://sb:8/360learning/api/v2/bulk/operations/{OP}"),
        ("http://sb:8/360learning", f"api/v2/bulk/operations/{OP}", f"http://sb:8/360learning/api/v2/bulk/operations/{OP}"),
        ("http://sb:8/360learning", f"http://sb:8/360learning/api/v2/bulk/operations/{OP}", f"http://sb:8/360learning/api/v2/bulk/operations/{OP}"),
    ],
)  # fmt: skip
def test_relative_and_absolute_locations_become_the_url_that_is_polled(
    base_url: str, location: str, expected: str
) -> None:
    api = Api()
    prefix = httpx.URL(base_url).path.rstrip("/")
    api.routes[("PUT", f"{prefix}/api/v2/bulk/integrations/{INTEGRATION}/courses")] = accepted(location)
    api.routes[("GET", f"{prefix}/api/v2/bulk/operations/{OP}")] = lambda r: httpx.Response(
        200,
        json={
            "_id": OP,
            "type": "importExternalCourses",
            "createdAt": "x",
            "status": "queued",
            "queuedAt": "y",
        },
    )
    p = provider(api, connection=conn(base_url))
    job_ref = p.submit("upsert", [ITEM]).job_ref
    assert job_ref == expected
    assert p.poll(job_ref).state == "pending"
    assert str(api.requests[-1].url) == expected


def test_a_location_on_another_origin_never_receives_the_token() -> None:
    api = Api()
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = accepted(
        "https://evil.example/api/v2/bulk/operations/x"
    )
    with pytest.raises(PermanentError, match="check base_url"):
        provider(api).submit("upsert", [ITEM])
    assert all(r.url.host == "app.360learning.com" for r in api.requests)


def operation(status: str, **extra: Any) -> dict[str, Any]:
    return {"_id": OP, "type": "importExternalCourses", "createdAt": "x", "status": status, **extra}


def test_poll_is_pending_until_the_operation_ends_then_maps_results_by_external_id() -> None:
    api = Api()
    states = iter(["pending", "queued", "running", "completed"])
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}")] = lambda r: httpx.Response(
        200, json=operation(next(states))
    )
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}/results")] = lambda r: httpx.Response(
        200,
        json=[
            {"input": {"externalId": "b", "name": "B"}, "status": "error", "errorMessage": "bad launchUrl"},
            {"input": {"externalId": "a", "name": "A"}, "status": "success", "resourceId": "r-a"},
            {"input": {"name": "no id"}, "status": "success", "resourceId": "r-?"},
        ],
    )
    p = provider(api)
    assert [p.poll(OP_URL).state for _ in range(3)] == ["pending"] * 3
    done = p.poll(OP_URL)
    assert done.state == "done"
    assert [(x.item_id, x.ok, x.code, x.message, x.remote_id) for x in done.results] == [
        ("b", False, "itemError", "bad launchUrl", None),
        ("a", True, None, None, "r-a"),
    ]


def test_results_not_ready_yet_mean_poll_again() -> None:
    api = Api()
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}")] = lambda r: httpx.Response(
        200, json=operation("completed")
    )
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}/results")] = lambda r: httpx.Response(
        400, json={"error": {"code": "bulkOperationNotRun", "message": "not run yet"}}
    )
    assert provider(api).poll(OP_URL).state == "pending"


@pytest.mark.parametrize(
    "results",
    [
        httpx.Response(404, json={"error": {"code": "bulkOperationNotFound", "message": "gone"}}),
        httpx.Response(200, json=[]),
    ],
)
def test_an_errored_operation_without_results_fails_with_its_error_message(results: httpx.Response) -> None:
    api = Api()
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}")] = lambda r: httpx.Response(
        200, json=operation("error", errorMessage="Internal failure while importing")
    )
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}/results")] = lambda r: results
    status = provider(api).poll(OP_URL)
    assert (status.state, status.code, status.reason) == (
        "failed",
        "bulkOperationError",
        "Internal failure while importing",
    )


def test_archive_sends_the_external_ids_with_delete() -> None:
    api = bulk_api()
    items = [OutboundItem(i, "d", {"externalId": i}) for i in ("a", "b")]
    assert provider(api).submit("deactivate", items).job_ref == OP_URL
    (delete,) = api.calls("/courses")
    assert delete.method == "DELETE" and json.loads(delete.content) == {
        "input": [{"externalId": "a"}, {"externalId": "b"}]
    }


# --- errors -----------------------------------------------------------------------------------


def envelope(code: str, message: str = "explained") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@pytest.mark.parametrize(
    ("status", "body", "cls", "says"),
    [
        (403, envelope("invalid_scope"), AuthError, "integrations:bulk, bulkOperations:read and integrations:write"),
        (404, envelope("integrationNotFound"), NotFound, "check integration_id"),
        (400, envelope("inputTooLong"), ProviderRejected, "lower batch_size"),
        (400, envelope("invalidInput"), ProviderRejected, "explained"),
        (429, envelope("bulkOperationsConcurrencyLimitReached"), ConcurrencyLimited, "explained"),
        (429, {"error": "tooManyRequests"}, RateLimited, "too many requests"),
        (503, envelope("bulkAPIDisabled"), ProviderUnavailable, "explained"),
        (502, None, ProviderUnavailable, "Bad Gateway"),
    ],
)  # fmt: skip
def test_errors_map_to_our_tree_and_say_what_to_fix(status: int, body: Any, cls: type, says: str) -> None:
    api = Api()
    answer = httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="<html/>")
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = lambda r: answer
    with pytest.raises(cls) as info:
        provider(api).submit("upsert", [ITEM])
    assert says in info.value.message and info.value.status_code == status
    if isinstance(body, dict) and isinstance(body["error"], dict):
        assert info.value.code == body["error"]["code"]


def test_network_failures_become_provider_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    p = Learning360Provider(
        conn(), httpx.Client(transport=httpx.MockTransport(handler)), fakeredis.FakeRedis()
    )
    with pytest.raises(ProviderUnavailable, match="connection failed"):
        p.submit("upsert", [ITEM])


# --- integrations -----------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxSettings(l360_group_ids=(GROUP,), l360_pending_s=0.05)) as server:
        yield server


@pytest.fixture
def on_sandbox(sandbox: SandboxServer) -> Iterator[Callable[..., Learning360Provider]]:
    """Makes providers of a connection with an integration table on the sandbox; closes them."""
    clients: list[httpx.Client] = []

    def make(kv: Any, name: str = "acme") -> Learning360Provider:
        opts = {
            "client_id": "sandbox-360-client",
            "client_secret": "sandbox-360-secret",
            "integration": TABLE,
        }
        connection = Connection(
            name, "360learning", sandbox.url + "/360learning", opts, None, get_plugin("360learning").spec
        )
        clients.append(httpx.Client(timeout=5))
        return Learning360Provider(connection, clients[-1], kv)

    yield make
    for client in clients:
        client.close()


def test_two_workers_racing_create_the_integration_once(
    sandbox: SandboxServer, on_sandbox: Callable[..., Learning360Provider], r: redis.Redis
) -> None:
    # Given two workers of a connection that has an integration table, and no integration yet
    workers = [on_sandbox(r) for _ in range(2)]
    refs: list[str | None] = []
    sandbox.state.update_settings({"latency_s": 0.05})  # widen the race window
    # When both submit at the same moment
    threads = [
        threading.Thread(target=lambda p=p: refs.append(p.submit("upsert", [ITEM]).job_ref)) for p in workers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then one integration exists, both wrote into it, and its id is kept for the fleet
    stats = sandbox.state.stats()["360learning"]
    assert (stats["integrations_created"], stats["operations_created"], stats["tokens_issued"]) == (1, 2, 1)
    (created,) = sandbox.providers["360learning"].store.integrations("sandbox-360-client")  # type: ignore[attr-defined]
    assert r.get(keys.integration_id("acme")) == created["_id"]
    assert created["externalPlatform"] == "coursesync" and created["groupId"] == GROUP
    assert len(refs) == 2 and all(refs)


def test_an_integration_that_exists_already_is_found_by_platform_and_group(
    sandbox: SandboxServer, on_sandbox: Callable[..., Learning360Provider]
) -> None:
    # Given the integration was created for another connection with the same table
    kv = fakeredis.FakeRedis(decode_responses=True)
    on_sandbox(kv, "old").submit("upsert", [ITEM])
    # When a new connection needs it
    on_sandbox(kv, "new").submit("upsert", [ITEM])
    # Then 360Learning's duplicateExternalPlatform led to the existing one, found in the list
    assert sandbox.state.stats()["360learning"]["integrations_created"] == 1
    assert kv.get(keys.integration_id("new")) == kv.get(keys.integration_id("old")) is not None
    assert sandbox.state.stats()["by_route"]["360learning GET /api/v2/integrations"] == 1


def test_a_duplicate_integration_that_cannot_be_listed_gives_a_clear_fix(
    sandbox: SandboxServer, on_sandbox: Callable[..., Learning360Provider]
) -> None:
    on_sandbox(fakeredis.FakeRedis(), "old").submit("upsert", [ITEM])
    scopes = ["integrations:write", "integrations:bulk", "bulkOperations:read"]  # no integrations:read
    sandbox.state.update_settings({"l360_scopes": scopes})
    with pytest.raises(
        ProviderRejected, match=r"already exists in group .* set integration_id on connection 'new'"
    ):
        on_sandbox(fakeredis.FakeRedis(), "new").submit("upsert", [ITEM])


def test_an_incomplete_integration_table_is_a_config_error_naming_the_keys() -> None:
    p = provider(Api(), connection=conn(integration={"external_platform": "x", "colour": "red"}))
    with pytest.raises(
        ConfigError, match=r"integration: missing group_id, author_id; unknown key\(s\) \['colour'\]"
    ):
        p.submit("upsert", [ITEM])


def test_a_created_integration_deleted_at_360learning_is_forgotten_and_made_again() -> None:
    kv = fakeredis.FakeRedis(decode_responses=True)
    kv.set(keys.integration_id("acme"), INTEGRATION)
    api = Api()
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = lambda r: httpx.Response(
        404, json=envelope("integrationNotFound")
    )
    with pytest.raises(NotFound, match="creates it again"):
        provider(api, kv, conn(integration=TABLE)).submit("upsert", [ITEM])
    assert kv.get(keys.integration_id("acme")) is None


# --- what an answer proves ----------------------------------------------------------------------


def polled_with(operation_doc: Any, results: Any = None) -> Any:
    api = Api()
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}")] = lambda r: httpx.Response(200, json=operation_doc)
    api.routes[("GET", f"/api/v2/bulk/operations/{OP}/results")] = lambda r: httpx.Response(200, json=results)
    return provider(api).poll(OP_URL)


@pytest.mark.parametrize(
    "doc",
    [
        operation("finished"),
        operation("COMPLETED"),
        {"status": ["completed"]},
        {"status": None},
        [],
        "completed",
        7,
    ],
)
def test_an_operation_in_an_unknown_state_is_unverified(doc: Any) -> None:
    with pytest.raises(UnverifiedAnswer, match="unknown status"):
        polled_with(doc, [])


@pytest.mark.parametrize("results", [{"input": []}, "done", 5, None])
def test_results_of_a_completed_operation_that_are_no_list_are_unverified(results: Any) -> None:
    with pytest.raises(UnverifiedAnswer, match="not a list"):
        polled_with(operation("completed"), results)


def test_a_running_operation_with_odd_progress_is_still_pending() -> None:
    assert polled_with(operation("running", progress=[1, 2])).state == "pending"


def test_only_an_explicit_success_with_an_external_id_succeeds() -> None:
    entries = [
        {"input": {"externalId": "ok"}, "status": "success", "resourceId": "r1"},
        {"input": {"externalId": "ok-odd-id"}, "status": "success", "resourceId": {"id": 1}},
        {"input": {"externalId": "bad"}, "status": "error", "errorMessage": "nope"},
        {"input": {"externalId": "bad-bare"}, "status": "error"},
        {"input": {"externalId": "odd"}, "status": "Success"},
        {"input": {"externalId": "none"}},
        {"input": {"externalId": 5}, "status": "success"},
        {"input": "ok", "status": "success"},
        {"status": "success", "resourceId": "r9"},
        ["success"],
        None,
    ]
    done = polled_with(operation("completed"), entries)
    assert {(r.item_id, r.ok, r.code, r.remote_id) for r in done.results} == {
        ("ok", True, None, "r1"),
        ("ok-odd-id", True, None, None),
        ("bad", False, "itemError", None),
        ("bad-bare", False, "itemError", None),
        ("odd", False, UNVERIFIED, None),
        ("none", False, UNVERIFIED, None),
    }


@pytest.mark.parametrize("headers", [{}, {"Location": ""}, {"Location": "   "}, {"Location": "http://["}])
def test_a_202_without_a_usable_location_is_unverified(headers: dict[str, str]) -> None:
    api = Api()
    api.routes[("PUT", f"/api/v2/bulk/integrations/{INTEGRATION}/courses")] = lambda r: httpx.Response(
        202, headers=headers
    )
    with pytest.raises(UnverifiedAnswer, match="Location") as info:
        provider(api).submit("upsert", [ITEM])
    assert info.value.code == UNVERIFIED and info.value.status_code == 202


@pytest.mark.parametrize(
    "token_doc",
    [
        {"access_token": "t", "expires_in": "3600"},
        {"access_token": "t", "expires_in": -1},
        {"access_token": "t", "expires_in": True},
        b'{"access_token": "t", "expires_in": 1e400}',
        {"access_token": 5, "expires_in": 3600},
        {"access_token": "", "expires_in": 3600},
        ["t", 3600],
    ],
)
def test_an_unusable_token_answer_is_transient_never_a_crash(token_doc: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(token_doc, bytes):  # JSON that Python's encoder would not write
            return httpx.Response(200, content=token_doc)
        return httpx.Response(200, json=token_doc)

    p = Learning360Provider(
        conn(),
        httpx.Client(transport=httpx.MockTransport(handler)),
        fakeredis.FakeRedis(decode_responses=True),
    )
    with pytest.raises(ProviderUnavailable, match="access_token/expires_in"):
        p.submit("upsert", [ITEM])
