"""The sandbox's 360Learning behaves as providers.md §3 and 360Learning's own schemas say, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from schemas.vendored import validator

CLIENT = {
    "grant_type": "client_credentials",
    "client_id": "sandbox-360-client",
    "client_secret": "sandbox-360-secret",
}
INTEGRATION = "64a1b2c3d4e5f6a7b8c9d0e1"
GROUP, AUTHOR = "5f1a2b3c4d5e6f7a8b9c0d1e", "5f1a2b3c4d5e6f7a8b9c0d1f"
COURSES = f"/api/v2/bulk/integrations/{INTEGRATION}/courses"
PENDING_S = 0.4


def item(external_id: str, url: str = "https://learn.example/c", **fields: Any) -> dict[str, Any]:
    return {"externalId": external_id, "name": f"Course {external_id}", "defaultLang": "en", "launchUrl": url,
            "sources": [{"name": "Acme"}], "subjects": ["General"], **fields}  # fmt: skip


def assert_valid(name: str, doc: Any) -> None:
    errors = [e.message for e in validator("360learning", name).iter_errors(doc)]
    assert errors == [], errors


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxSettings(l360_pending_s=PENDING_S)) as server:
        yield server


def token(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/api/v2/oauth2/token", json={**CLIENT, **body})


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/360learning", timeout=5) as client:
        access = token(client).json()["access_token"]
        client.headers.update({"Authorization": f"Bearer {access}", "360-api-version": "v2.0"})
        yield client


def submit(api: httpx.Client, method: str, *inputs: dict[str, Any]) -> str:
    resp = api.request(method, COURSES, json={"input": list(inputs)})
    assert resp.status_code == 202, resp.text
    return resp.headers["Location"]


def finished(api: httpx.Client, location: str) -> list[dict[str, Any]]:
    time.sleep(PENDING_S + 0.05)
    assert api.get(location).json()["status"] == "completed"
    results: list[dict[str, Any]] = api.get(location + "/results").json()
    return results


# --- token and the checks every call goes through ------------------------------------------------


def test_the_token_endpoint_issues_bearer_tokens_for_known_clients_only(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url + "/360learning") as client:
        good = token(client)
        assert good.status_code == 200 and good.json()["expires_in"] == 3600
        assert_valid("TokenResponse", good.json())
        assert (
            token(client, client_secret="nope").status_code,
            token(client, client_secret="nope").json(),
        ) == (
            401,
            {"error": "invalid_client"},
        )
        assert token(client, grant_type="password").json() == {"error": "unsupported_grant_type"}
        assert client.post("/api/v2/oauth2/token", json={"client_id": "x"}).json() == {
            "error": "invalid_request"
        }
    assert sandbox.state.stats()["360learning"]["tokens_issued"] == 1


def test_expired_and_unknown_tokens_get_401_invalid_token(sandbox: SandboxServer) -> None:
    sandbox.state.update_settings({"l360_token_ttl_s": 0.2})
    with httpx.Client(base_url=sandbox.url + "/360learning", headers={"360-api-version": "v2.0"}) as client:
        access = token(client).json()["access_token"]
        assert (
            client.get("/api/v2/integrations", headers={"Authorization": f"Bearer {access}"}).status_code
            == 200
        )
        time.sleep(0.25)
        expired = client.get("/api/v2/integrations", headers={"Authorization": f"Bearer {access}"})
        unknown = client.get("/api/v2/integrations", headers={"Authorization": "Bearer made-up"})
    assert (expired.status_code, expired.json()) == (401, {"error": "invalid_token"})
    assert (unknown.status_code, unknown.json()) == (401, {"error": "invalid_token"})


def test_the_version_header_and_the_scope_are_required(api: httpx.Client, sandbox: SandboxServer) -> None:
    del api.headers["360-api-version"]
    missing = api.get("/api/v2/integrations")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalidApiVersion"
    api.headers["360-api-version"] = "v2.0"
    sandbox.state.update_settings({"l360_scopes": ["integrations:read"]})
    refused = api.put(COURSES, json={"input": [item("a")]})
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {
            "code": "invalid_scope",
            "message": "The access token does not have the integrations:bulk scope.",
        }
    }


@pytest.mark.parametrize(("knob", "method", "path"), [("l360_write_rate_per_s", "PUT", COURSES),
                                                      ("l360_read_rate_per_s", "GET", "/api/v2/integrations")])  # fmt: skip
def test_reads_and_writes_are_rate_limited_apart(
    api: httpx.Client, sandbox: SandboxServer, knob: str, method: str, path: str
) -> None:
    sandbox.state.update_settings({knob: 2, "l360_bulk_concurrency": 100})
    answers = [
        api.request(method, path, json={"input": [item("a")]} if method == "PUT" else None) for _ in range(4)
    ]
    assert [a.status_code for a in answers][2:] == [429, 429]
    assert answers[-1].json() == {"error": "tooManyRequests"}
    other = (
        api.get("/api/v2/integrations") if method == "PUT" else api.put(COURSES, json={"input": [item("a")]})
    )
    assert other.status_code in (200, 202)  # the other budget is untouched


# --- integrations ------------------------------------------------------------------------------


def test_integrations_are_created_once_per_platform_and_group_and_listed(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    body = {"externalPlatform": "coursesync", "groupId": GROUP, "authorId": AUTHOR, "defaultProgress": 0}
    created = api.post("/api/v2/integrations", json=body)
    assert created.status_code == 201
    assert_valid("CreateIntegrationResponse", created.json())
    duplicate = api.post("/api/v2/integrations", json=body)
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "duplicateExternalPlatform"
    unknown_group = api.post("/api/v2/integrations", json={**body, "groupId": "0" * 24})
    assert unknown_group.status_code == 404 and unknown_group.json()["error"]["code"] == "groupNotFound"
    bad = api.post("/api/v2/integrations", json={**body, "authorId": "not-an-id"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidInput"
    listed = api.get("/api/v2/integrations", params={"externalPlatform[eq]": "coursesync"}).json()
    assert listed == [created.json()]
    assert sandbox.state.stats()["360learning"]["integrations_created"] == 1
    # The new integration takes courses at once
    assert (
        api.put(
            f"/api/v2/bulk/integrations/{created.json()['_id']}/courses", json={"input": [item("a")]}
        ).status_code
        == 202
    )


def test_the_integration_list_has_100_per_page_and_a_link_to_the_next(api: httpx.Client) -> None:
    for n in range(120):
        api.post(
            "/api/v2/integrations", json={"externalPlatform": f"p{n}", "groupId": GROUP, "authorId": AUTHOR}
        )
    first = api.get("/api/v2/integrations")
    assert len(first.json()) == 100  # the pre-existing integration and 99 created ones
    second = httpx.get(first.links["next"]["url"], headers=api.headers)
    assert len(second.json()) == 21 and "link" not in second.headers
    for doc in first.json() + second.json():
        assert_valid("CreateIntegrationResponse", doc)


# --- bulk operations ---------------------------------------------------------------------------


def test_an_upsert_goes_pending_queued_running_completed_then_gives_results(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    # Given a body with a course the LMS takes and one on an unresolvable host
    location = submit(api, "PUT", item("ok"), item("bad", "https://lms.invalid/c"))
    # Then the Location is absolute, and the operation moves through every documented state
    assert location.startswith(sandbox.url + "/360learning/api/v2/bulk/operations/")
    seen = []
    early = api.get(location + "/results")
    assert early.status_code == 400 and early.json()["error"]["code"] == "bulkOperationNotRun"
    deadline = time.monotonic() + 2
    while not seen or seen[-1]["status"] != "completed":
        assert time.monotonic() < deadline
        doc = api.get(location).json()
        assert_valid("BulkOperation", doc)
        if not seen or doc["status"] != seen[-1]["status"]:
            seen.append(doc)
        time.sleep(0.02)
    assert [d["status"] for d in seen] == ["pending", "queued", "running", "completed"]
    assert seen[-1]["type"] == "importExternalCourses" and seen[-1]["progress"]["index"] == 1
    results = api.get(location + "/results").json()
    assert_valid("BulkOperationResults", results)
    ok, bad = results
    assert ok["status"] == "success" and ok["input"] == item("ok") and len(ok["resourceId"]) == 24
    assert bad == {"input": item("bad", "https://lms.invalid/c"), "status": "error",
                   "errorMessage": "The external course could not be imported: launchUrl host 'lms.invalid' does not resolve."}  # fmt: skip
    stats = sandbox.state.stats()["360learning"]
    assert (stats["operations_created"], stats["items_received"], stats["distinct_ids"]) == (1, 2, 2)


def test_archive_marks_known_courses_archived_and_reports_unknown_ones(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    first = finished(api, submit(api, "PUT", item("a"), item("b")))
    results = finished(api, submit(api, "DELETE", {"externalId": "a"}, {"externalId": "zz"}))
    assert_valid("BulkOperationResults", results)
    assert results[0] == {
        "input": {"externalId": "a"},
        "status": "success",
        "resourceId": first[0]["resourceId"],
    }
    assert results[1]["status"] == "error" and "'zz'" in results[1]["errorMessage"]
    course = api.get(f"/api/v2/integrations/{INTEGRATION}/courses/a")
    assert (
        course.headers["X-Sandbox-Archived"] == "true" and course.json()["courseId"] == first[0]["resourceId"]
    )
    assert api.get(f"/api/v2/integrations/{INTEGRATION}/courses/b").headers["X-Sandbox-Archived"] == "false"
    assert (
        api.get(f"/api/v2/integrations/{INTEGRATION}/courses/zz").json()["error"]["code"]
        == "courseNotBelongToIntegration"
    )
    # An upsert brings an archived course back, replaced by the new data
    finished(api, submit(api, "PUT", item("a", name="Renamed")))
    again = api.get(f"/api/v2/integrations/{INTEGRATION}/courses/a")
    assert again.headers["X-Sandbox-Archived"] == "false" and again.json()["name"] == "Renamed"
    assert sandbox.state.stats()["360learning"]["archived"] == 1


def test_at_most_three_operations_per_company_run_at_once(api: httpx.Client) -> None:
    for n in range(3):
        submit(api, "PUT", item(f"c{n}"))
    refused = api.put(COURSES, json={"input": [item("c3")]})
    assert (
        refused.status_code == 429
        and refused.json()["error"]["code"] == "bulkOperationsConcurrencyLimitReached"
    )
    time.sleep(PENDING_S + 0.05)
    submit(api, "DELETE", {"externalId": "c0"})


def test_unknown_integrations_and_operations_are_404(api: httpx.Client) -> None:
    missing = api.put(
        "/api/v2/bulk/integrations/aaaaaaaaaaaaaaaaaaaaaaaa/courses", json={"input": [item("a")]}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "integrationNotFound"
    op = api.get("/api/v2/bulk/operations/aaaaaaaaaaaaaaaaaaaaaaaa")
    assert op.status_code == 404 and op.json()["error"]["code"] == "bulkOperationNotFound"
    route = api.get("/api/v2/nothing-here")
    assert route.status_code == 404 and route.json()["error"]["code"] == "notFound"


def test_operations_of_one_company_are_invisible_to_another(
    sandbox: SandboxServer, api: httpx.Client
) -> None:
    location = submit(api, "PUT", item("a"))
    sandbox.state.update_settings({"l360_clients": ["sandbox-360-client:sandbox-360-secret", "other:pw"]})
    with httpx.Client(base_url=sandbox.url + "/360learning", headers={"360-api-version": "v2.0"}) as other:
        access = token(other, client_id="other", client_secret="pw").json()["access_token"]
        assert other.get(location, headers={"Authorization": f"Bearer {access}"}).status_code == 404
