"""The sandbox's Thought Industries over real HTTP: the documented shapes plus its own choices."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, SandboxSettings
from sandbox.providers.thoughtindustries.contract import COLUMNS, JOB_RUNNING
from sandbox.providers.thoughtindustries.store import TiStore
from workers.providers.thoughtindustries.mapping import to_csv

KEY = "ti_test_sandbox"
PENDING_S = 0.2
BULK = "/incoming/v2/content/courseGroup/webinar/bulk"
RESPONSE_KEY = "APIBulkCourseGroupWebinarImport"


def row(key: str, url: str = "https://learn.example/c", **cells: str) -> dict[str, str]:
    return {"externalId": key, "title": f"Course {key}", "url": url, **cells}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxSettings(ti_pending_s=PENDING_S)) as server:
        yield server


@pytest.fixture
def ti(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=sandbox.url + "/thoughtindustries", headers=headers, timeout=5) as client:
        yield client


def upload(client: httpx.Client, name: str, *rows: dict[str, str]) -> str:
    resp = client.put(f"/assets/{name}", content=to_csv(rows))
    assert resp.status_code in (200, 201), resp.text
    return asset_url(client, name)


def asset_url(client: httpx.Client, name: str) -> str:
    return f"{str(client.base_url).rstrip('/')}/assets/{name}"


def bulk(
    client: httpx.Client, path: str, content: str = "courseGroup/webinar", **body: Any
) -> dict[str, Any]:
    resp = client.post(f"/incoming/v2/content/{content}/bulk", json={"bulkImportAssetPath": path, **body})
    assert resp.status_code == 200, resp.text
    (result,) = resp.json()["data"].values()
    return dict(result)


def store(sandbox: SandboxServer) -> TiStore:
    return sandbox.state.store("thoughtindustries", TiStore)


def test_a_dry_run_judges_every_row_and_imports_nothing(ti: httpx.Client, sandbox: SandboxServer) -> None:
    # Given an asset with a good row, one without title and one on a host that never resolves
    path = upload(ti, "a.csv", row("ok"), row("untitled", title=""), row("gone", "https://x.invalid/c"))
    # When it is dry-run
    result = bulk(ti, path, dryRun=True)
    # Then each invalid row carries its key and the reason, and nothing reaches the store
    assert result["dryRun"] is True
    assert [r["externalId"] for r in result["validRows"]] == ["ok"]
    assert [(r["externalId"], r["error"]) for r in result["invalidRows"]] == [
        ("untitled", "title is required."),
        ("gone", "url host 'x.invalid' does not resolve."),
    ]
    assert result["backgroundJob"]["status"] == "complete"
    time.sleep(PENDING_S + 0.05)
    assert store(sandbox).rows("courseGroup/webinar", time.time()) == {}
    stats = sandbox.state.stats()["thoughtindustries"]
    assert (stats["dry_runs"], stats["jobs_created"], stats["imports"]) == (1, 0, 0)


def test_an_import_job_runs_then_completes_and_its_valid_rows_reach_the_store(
    ti: httpx.Client, sandbox: SandboxServer
) -> None:
    path = upload(
        ti, "b.csv", row("a"), row("b", description="Line one\nline two, quoted"), row("x", title="")
    )
    result = bulk(ti, path)
    job = result["backgroundJob"]
    assert result["dryRun"] is False and len(result["invalidRows"]) == 1
    assert job["status"] == JOB_RUNNING and job["errorMessage"] == ""
    assert store(sandbox).rows("courseGroup/webinar", time.time()) == {}
    time.sleep(PENDING_S + 0.05)
    polled = ti.get(f"/incoming/v2/jobs/{job['id']}").json()["data"]["APIBackgroundJob"]
    assert polled["status"] == "complete" and polled["id"] == job["id"]
    rows = store(sandbox).rows("courseGroup/webinar", time.time())
    assert sorted(rows) == ["a", "b"] and rows["b"]["description"] == "Line one\nline two, quoted"
    assert set(rows["a"]) == set(COLUMNS)


def test_the_same_asset_for_the_same_content_returns_the_same_job(
    ti: httpx.Client, sandbox: SandboxServer
) -> None:
    first = bulk(ti, upload(ti, "c.csv", row("a"), row("b")))["backgroundJob"]["id"]
    again = bulk(ti, upload(ti, "c-copy.csv", row("a"), row("b")))["backgroundJob"]["id"]
    elsewhere = bulk(ti, upload(ti, "c.csv", row("a"), row("b")), "courseGroup/inPersonEvent")[
        "backgroundJob"
    ]["id"]
    other = bulk(ti, upload(ti, "d.csv", row("a")))["backgroundJob"]["id"]
    assert first == again != elsewhere != other
    stats = sandbox.state.stats()["thoughtindustries"]
    assert (stats["imports"], stats["jobs_created"], stats["idempotent_replays"]) == (4, 3, 1)
    assert (stats["items_received"], stats["distinct_ids"], stats["assets_stored"]) == (5, 2, 4)


def test_an_absolute_csv_file_path_is_read_too(ti: httpx.Client, tmp_path: Path) -> None:
    asset = tmp_path / "asset.csv"
    asset.write_bytes(to_csv([row("f")]))
    assert [r["externalId"] for r in bulk(ti, str(asset))["validRows"]] == ["f"]


def test_a_session_needs_a_course_group_that_was_imported_first(ti: httpx.Client) -> None:
    session = upload(ti, "s.csv", row("s1", courseGroup="g1"), row("s2"))
    before = bulk(ti, session, "session/webinar", dryRun=True)["invalidRows"]
    assert [r["error"] for r in before] == [
        "Course group 'g1' does not exist; import it first.",
        "courseGroup is required for a session.",
    ]
    bulk(ti, upload(ti, "g.csv", row("g1")))
    time.sleep(PENDING_S + 0.05)
    after = bulk(ti, session, "session/webinar")
    assert [r["externalId"] for r in after["validRows"]] == ["s1"]
    assert [r["externalId"] for r in after["invalidRows"]] == ["s2"]


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"url": "ftp://x/y"}, "url must be an absolute http(s) URL."),
        ({"thumbnailUrl": "not a url"}, "thumbnailUrl must be an absolute http(s) URL."),
        ({"durationMinutes": "45.5"}, "durationMinutes must be a whole number of minutes above 0."),
        ({"externalId": ""}, "externalId is required."),
        ({"externalId": "dup"}, "externalId 'dup' appears more than once in the asset."),
    ],
)
def test_rows_are_refused_for_what_an_import_cannot_use(
    ti: httpx.Client, cells: dict[str, str], reason: str
) -> None:
    path = upload(ti, "r.csv", row("dup"), {**row("z"), **cells})
    assert [r["error"] for r in bulk(ti, path, dryRun=True)["invalidRows"]] == [reason]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "bulkImportAssetPath is required"),
        ({"bulkImportAssetPath": ""}, 400, "bulkImportAssetPath is required"),
        ({"bulkImportAssetPath": "/x.csv", "dryRun": "yes"}, 400, "dryRun must be true or false"),
        ({"bulkImportAssetPath": "/x.csv", "items": []}, 400, "Unknown field(s): items"),
        ({"bulkImportAssetPath": "relative.csv"}, 422, "neither an asset URL"),
        ({"bulkImportAssetPath": "/etc/passwd"}, 422, "neither an asset URL"),
        ({"bulkImportAssetPath": "/no/such/file.csv"}, 422, "cannot be read"),
        (
            {"bulkImportAssetPath": "http://h/thoughtindustries/assets/never.csv"},
            422,
            "No asset was uploaded",
        ),
    ],
)
def test_bodies_the_api_would_refuse_get_its_error_shape(
    ti: httpx.Client, sandbox: SandboxServer, body: Any, status: int, message: str
) -> None:
    resp = ti.post(BULK, json=body)
    assert resp.status_code == status and message in resp.json()["message"]
    assert set(resp.json()) == {"error", "message"}
    assert sandbox.state.stats()["thoughtindustries"]["jobs_created"] == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"externalId,title,url\r\na,T,https://x/\r\n", "header must be exactly"),
        (to_csv([]), "no rows"),
        (b"", "empty"),
        (b"\xff\xfe" + to_csv([row("a")]), "not UTF-8"),
    ],
)
def test_an_asset_that_is_not_the_assumed_csv_is_refused_as_a_whole(
    ti: httpx.Client, data: bytes, message: str
) -> None:
    ti.put("/assets/bad.csv", content=data)
    resp = ti.post(BULK, json={"bulkImportAssetPath": asset_url(ti, "bad.csv")})
    assert resp.status_code == 422 and message in resp.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", BULK), ("GET", "/incoming/v2/jobs/x"), ("PUT", "/assets/a.csv")],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {KEY}"])
def test_every_route_needs_a_known_bearer_key(
    sandbox: SandboxServer, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = httpx.request(method, sandbox.url + "/thoughtindustries" + path, headers=headers, content=b"{}")
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"


def test_unknown_jobs_contents_routes_and_asset_names_are_refused(ti: httpx.Client) -> None:
    assert ti.get("/incoming/v2/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert ti.post("/incoming/v2/content/course/article/bulk", json={}).status_code == 404
    assert ti.put("/assets/../x.csv", content=b"").status_code == 404
    assert ti.put("/assets/x.exe", content=b"").status_code == 400
    wrong = ti.get(BULK)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert set(wrong.json()) == {"error", "message"}


def test_the_rate_limit_answers_429_as_documented_with_epoch_reset(
    ti: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.settings.ti_rate_per_s = 1.0
    first = ti.get("/incoming/v2/jobs/x")
    second = ti.get("/incoming/v2/jobs/x")
    assert first.status_code == 404 and first.headers["X-RateLimit-Remaining"] == "0"
    assert second.status_code == 429
    body = second.json()
    assert body["error"] == "rate_limit_exceeded" and body["retryAfter"] >= 1 and body["message"]
    assert int(second.headers["Retry-After"]) == body["retryAfter"]
    reset = int(second.headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 5  # a Unix time, not a number of seconds
    assert ti.put("/assets/free.csv", content=b"x").status_code == 201  # our stand-in is not metered
