"""Thought Industries client against httpx.MockTransport: asset, dry run, import, job, errors."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest

from workers import keys
from workers.connections import Connection
from workers.errors import (
    UNVERIFIED,
    AuthError,
    NotFound,
    PermanentError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    UnverifiedAnswer,
)
from workers.providers.base import OutboundItem
from workers.providers.http import max_hint_s
from workers.providers.installed import get_plugin
from workers.providers.thoughtindustries.asset_store import FileAssetStore, asset_name
from workers.providers.thoughtindustries.assumptions import COLUMNS, DEACTIVATION_UNSUPPORTED
from workers.providers.thoughtindustries.client import ThoughtIndustriesProvider
from workers.providers.thoughtindustries.mapping import to_csv

BASE = "https://acme.thoughtindustries.com"
BULK = "/incoming/v2/content/courseGroup/webinar/bulk"
KEY = "APIBulkCourseGroupWebinarImport"
JOB = "11111111-2222-3333-4444-555555555555"


def item(i: str, **row: str) -> OutboundItem:
    payload = {"externalId": i, "title": f"T {i}", "url": f"https://learn.example/{i}", **row}
    return OutboundItem(i, "d", payload)


ITEMS = [item("a"), item("b"), item("c")]


def connection(store: str, **options: Any) -> Connection:
    opts = {"api_key": "ti_live_secret", "content": "courseGroup/webinar", "asset_store": store, **options}
    return Connection("acme-ti", "thoughtindustries", BASE, opts, None, get_plugin("thoughtindustries").spec)


def job(status: str = "running", error: str = "") -> dict[str, Any]:
    return {
        "id": JOB,
        "type": "contentBulkImport",
        "description": "d",
        "errorMessage": error,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "repeatable": False,
        "status": status,
    }


def bulk_answer(dry_run: bool, invalid: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    invalid_rows = [{"externalId": k, "error": v} for k, v in (invalid or {}).items()]
    result = {"dryRun": dry_run, "validRows": [], "invalidRows": invalid_rows, "backgroundJob": job()}
    return {"data": {KEY: {**result, **extra}}}


class Recorder:
    """A fake Thought Industries: answers from a queue and keeps every request."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


def provider(handler: Any, store: str, **options: Any) -> ThoughtIndustriesProvider:
    return ThoughtIndustriesProvider(
        connection(store, **options),
        httpx.Client(transport=httpx.MockTransport(handler)),
        fakeredis.FakeRedis(decode_responses=True),
    )


def read_rows(path: str) -> list[dict[str, str]]:
    text = Path(path).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    assert tuple(next(reader)) == COLUMNS
    return [dict(zip(COLUMNS, cells, strict=True)) for cells in reader]


def test_a_dry_run_fails_its_invalid_rows_and_only_the_valid_rows_are_imported(tmp_path: Path) -> None:
    # Given a dry run that refuses row "b" and an import that starts a job
    fake = Recorder(
        httpx.Response(200, json=bulk_answer(True, {"b": "url host 'x.invalid' does not resolve."})),
        httpx.Response(200, json=bulk_answer(False)),
    )
    p = provider(fake, f"file://{tmp_path}")
    # When a batch of three is submitted
    sub = p.submit("upsert", ITEMS)
    # Then the dry run read all three rows, the import a second asset with only a and c
    dry, full = fake.bodies()
    assert dry["dryRun"] is True and set(dry) == {"bulkImportAssetPath", "dryRun"}
    assert full == {"bulkImportAssetPath": full["bulkImportAssetPath"]}  # the documented body only
    assert [r["externalId"] for r in read_rows(dry["bulkImportAssetPath"])] == ["a", "b", "c"]
    assert [r["externalId"] for r in read_rows(full["bulkImportAssetPath"])] == ["a", "c"]
    assert all(
        r.url.path == BULK and r.headers["authorization"] == "Bearer ti_live_secret" for r in fake.requests
    )
    # And b failed at once with Thought Industries' reason, the job is polled for a and c
    assert sub.job_ref == JOB
    assert [(r.item_id, r.ok, r.code, r.message) for r in sub.results] == [
        ("b", False, "INVALID_ROW", "url host 'x.invalid' does not resolve.")
    ]
    assert json.loads(p._kv.get(keys.ti_job_rows("acme-ti", JOB))) == ["a", "c"]


def test_when_every_row_is_valid_the_dry_runs_asset_is_imported(tmp_path: Path) -> None:
    fake = Recorder(httpx.Response(200, json=bulk_answer(True)), httpx.Response(200, json=bulk_answer(False)))
    sub = provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)
    dry, full = fake.bodies()
    assert dry["bulkImportAssetPath"] == full["bulkImportAssetPath"]
    assert len(list(tmp_path.iterdir())) == 1 and sub.results == ()


def test_when_the_dry_run_refuses_every_row_nothing_is_imported(tmp_path: Path) -> None:
    fake = Recorder(httpx.Response(200, json=bulk_answer(True, {i.id: "title is required." for i in ITEMS})))
    sub = provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)
    assert len(fake.requests) == 1
    assert sub.job_ref is None and [r.message for r in sub.results] == ["title is required."] * 3


def test_without_dry_run_first_one_documented_call_imports_and_its_invalid_rows_fail(tmp_path: Path) -> None:
    fake = Recorder(httpx.Response(200, json=bulk_answer(False, {"c": "bad"})))
    p = provider(fake, f"file://{tmp_path}", dry_run_first=False)
    sub = p.submit("upsert", ITEMS)
    assert list(fake.bodies()[0]) == ["bulkImportAssetPath"]
    assert sub.job_ref == JOB and [r.item_id for r in sub.results] == ["c"]
    assert json.loads(p._kv.get(keys.ti_job_rows("acme-ti", JOB))) == ["a", "b"]


def test_a_dry_run_answered_as_an_import_is_not_imported_twice(tmp_path: Path) -> None:
    # Given an instance that ignores dryRun (assumption A5 wrong): its answer says dryRun false
    fake = Recorder(httpx.Response(200, json=bulk_answer(False, {"a": "bad"})))
    sub = provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)
    assert len(fake.requests) == 1 and sub.job_ref == JOB and [r.item_id for r in sub.results] == ["a"]


def test_an_http_asset_store_on_the_instance_gets_the_bearer_key_a_foreign_one_does_not() -> None:
    for prefix, auth in ((f"{BASE}/assets", "Bearer ti_live_secret"), ("https://files.example/up", None)):
        fake = Recorder(
            httpx.Response(201),
            httpx.Response(200, json=bulk_answer(True)),
            httpx.Response(200, json=bulk_answer(False)),
        )
        provider(fake, prefix).submit("upsert", ITEMS)
        put = fake.requests[0]
        assert put.method == "PUT" and str(put.url).startswith(prefix + "/coursesync-acme-ti-")
        assert put.headers.get("authorization") == auth
        assert put.headers["content-type"] == "text/csv; charset=utf-8"
        assert put.content == to_csv(i.payload for i in ITEMS)
        assert fake.bodies()[0]["bulkImportAssetPath"] == str(put.url)


def test_an_asset_store_refusing_the_upload_fails_the_batch_naming_asset_store() -> None:
    fake = Recorder(httpx.Response(403, json={"message": "bucket is read-only"}))
    with pytest.raises(AuthError, match=r"bucket is read-only.*check asset_store.*no credentials"):
        provider(fake, "https://files.example/up").submit("upsert", ITEMS)


def test_asset_names_depend_on_content_only_so_a_retry_overwrites() -> None:
    one = to_csv(i.payload for i in ITEMS)
    assert asset_name("acme ti/x", one) == asset_name("acme ti/x", one)
    assert asset_name("acme ti/x", one).startswith("coursesync-acme-ti-x-")
    assert asset_name("acme ti/x", one) != asset_name("acme ti/x", to_csv(i.payload for i in ITEMS[:2]))


def test_the_file_store_writes_atomically_and_readably(tmp_path: Path) -> None:
    store = FileAssetStore(tmp_path / "new" / "dir", connection="c")
    path = store.put("x.csv", b"first")
    assert store.put("x.csv", b"second") == path == str(tmp_path / "new" / "dir" / "x.csv")
    assert Path(path).read_bytes() == b"second"
    assert os.listdir(tmp_path / "new" / "dir") == ["x.csv"]  # no temporary file left behind
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_a_file_store_that_cannot_be_a_directory_is_a_permanent_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    p = provider(Recorder(), f"file://{tmp_path}/file/sub")
    with pytest.raises(PermanentError, match="check asset_store"):
        p.submit("upsert", ITEMS)


@pytest.mark.parametrize("store", ["ftp://x/y", "file://otherhost/dir", "file:relative/dir", "relative/dir"])
def test_an_asset_store_url_of_no_known_kind_is_refused(store: str) -> None:
    with pytest.raises(PermanentError, match="asset_store"):
        provider(Recorder(), store).submit("upsert", ITEMS)


def polled(tmp_path: Path, answer: dict[str, Any], rows: tuple[str, ...] | None = ("a", "c")) -> Any:
    p = provider(
        lambda req: httpx.Response(200, json={"data": {"APIBackgroundJob": answer}}), f"file://{tmp_path}"
    )
    if rows is not None:
        p._kv.set(keys.ti_job_rows("acme-ti", JOB), json.dumps(list(rows)))
    return p.poll(JOB)


@pytest.mark.parametrize("status", ["running", "queued", "pending", ""])
def test_any_status_but_the_terminal_ones_is_still_running(tmp_path: Path, status: str) -> None:
    assert polled(tmp_path, job(status)).state == "pending"


def test_a_complete_job_succeeds_every_row_it_carried(tmp_path: Path) -> None:
    done = polled(tmp_path, job("complete"))
    assert done.state == "done" and [(r.item_id, r.ok) for r in done.results] == [("a", True), ("c", True)]


@pytest.mark.parametrize(
    ("status", "error"), [("failed", "disk full"), ("cancelled", ""), ("complete", "oops")]
)
def test_a_failed_job_or_a_complete_one_with_an_error_fails_each_of_its_rows(
    tmp_path: Path, status: str, error: str
) -> None:
    done = polled(tmp_path, job(status, error))
    assert done.state == "done" and [r.item_id for r in done.results] == ["a", "c"]
    assert all(not r.ok and r.code == "JOB_FAILED" and status in (r.message or "") for r in done.results)
    assert all((error or "without an errorMessage") in (r.message or "") for r in done.results)


def test_a_job_whose_rows_are_forgotten_fails_as_a_whole_with_advice(tmp_path: Path) -> None:
    lost = polled(tmp_path, job("complete"), rows=None)
    assert (
        lost.state == "failed" and lost.code == "coursesync.JOB_ROWS_LOST" and "retry" in (lost.reason or "")
    )


def test_the_poll_reads_the_documented_jobs_path(tmp_path: Path) -> None:
    fake = Recorder(httpx.Response(200, json={"data": {"APIBackgroundJob": job()}}))
    provider(fake, f"file://{tmp_path}").poll(JOB)
    assert fake.requests[0].method == "GET" and fake.requests[0].url.path == f"/incoming/v2/jobs/{JOB}"


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "text"),
    [
        (401, {"error": "unauthorized", "message": "bad key"}, {}, AuthError, "check api_key"),
        (403, {"error": "forbidden", "message": "no"}, {}, AuthError, "role"),
        (404, {"error": "not_found", "message": "nope"}, {}, NotFound, "check base_url"),
        (409, {"error": "conflict", "message": "dup"}, {}, PermanentError, "dup"),
        (
            422,
            {"error": "unprocessable_entity", "message": "no such asset"},
            {},
            ProviderRejected,
            "no such asset",
        ),
        (400, {"error": "bad_request", "message": "bad"}, {}, ProviderRejected, "bad"),
        (502, None, {}, ProviderUnavailable, "Bad Gateway"),
        (503, None, {"Retry-After": "9"}, ProviderUnavailable, "Service Unavailable"),
        (504, None, {}, ProviderUnavailable, "Gateway Timeout"),
    ],
)
def test_errors_are_classified_by_status_with_advice(
    tmp_path: Path, status: int, body: Any, headers: dict[str, str], cls: type, text: str
) -> None:
    answer = (
        httpx.Response(status, json=body, headers=headers)
        if body
        else httpx.Response(status, headers=headers)
    )
    with pytest.raises(cls, match=text) as info:
        provider(Recorder(answer), f"file://{tmp_path}").submit("upsert", ITEMS)
    assert info.value.status_code == status
    if status == 409:
        assert type(info.value) is PermanentError
    if status == 503:
        assert info.value.retry_after_s == 9.0  # type: ignore[attr-defined]


def test_a_429_is_rate_limited_with_the_header_or_else_the_body_hint(tmp_path: Path) -> None:
    body = {"error": "rate_limit_exceeded", "message": "slow down", "retryAfter": 32}
    for headers, wait in (({"Retry-After": "5"}, 5.0), ({}, 32.0)):
        p = provider(Recorder(httpx.Response(429, json=body, headers=headers)), f"file://{tmp_path}")
        with pytest.raises(RateLimited, match="slow down") as info:
            p.poll(JOB)
        assert info.value.code == "rate_limit_exceeded" and info.value.retry_after_s == wait


def test_an_answer_without_the_content_response_key_is_unverified(tmp_path: Path) -> None:
    # An import may have started: the answer is unreadable, not a transient refusal
    fake = Recorder(httpx.Response(200, json={"data": {"APIBulkWebinarImport": {}}}))
    with pytest.raises(UnverifiedAnswer, match=KEY):
        provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)


@pytest.mark.parametrize("job_doc", [None, {}, {"id": 5}, {"id": ""}, "11111111"])
def test_an_import_without_a_string_job_id_is_unverified(tmp_path: Path, job_doc: Any) -> None:
    # Rows may be importing under a job coursesync cannot name
    fake = Recorder(httpx.Response(200, json=bulk_answer(False, backgroundJob=job_doc)))
    with pytest.raises(UnverifiedAnswer, match=r"backgroundJob\.id"):
        provider(fake, f"file://{tmp_path}", dry_run_first=False).submit("upsert", ITEMS)


def test_network_failures_become_provider_unavailable(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderUnavailable, match="connection failed"):
        provider(handler, f"file://{tmp_path}").submit("upsert", ITEMS)


def test_deactivation_is_refused_per_item_without_any_request(tmp_path: Path) -> None:
    fake = Recorder()
    sub = provider(fake, f"file://{tmp_path}").submit("deactivate", ITEMS[:2])
    assert fake.requests == [] and sub.job_ref is None
    assert [(r.item_id, r.ok, r.message) for r in sub.results] == [
        ("a", False, DEACTIVATION_UNSUPPORTED),
        ("b", False, DEACTIVATION_UNSUPPORTED),
    ]


# --- invalid rows in every plausible shape (A6) ------------------------------------------------


def with_invalid(dry_run: bool, *entries: Any, **extra: Any) -> httpx.Response:
    answer = {"dryRun": dry_run, "validRows": [], "invalidRows": list(entries), "backgroundJob": job()}
    return httpx.Response(200, json={"data": {KEY: {**answer, **extra}}})


@pytest.mark.parametrize(
    "entry",
    [
        {"externalId": "b", "error": "why"},  # A6 flat
        {"row": {"externalId": "b", "title": "T b"}, "error": "why"},  # nested row object
        {"data": {"externalId": "b"}, "errors": ["why"]},
        {"values": {"externalId": "b"}, "message": "why"},
        {"record": {"externalId": "b"}, "reason": "why"},
        {"fields": {"externalId": "b", "error": "why"}},  # the reason inside the nested row
        {"rowNumber": 2, "error": "why"},  # data rows count from 1
        {"row_number": "2", "error": "why"},
        {"row": 2, "error": "why"},
        {"rowIndex": 1, "error": "why"},  # from 0
        {"row_index": "1", "error": "why"},
        {"index": 1, "error": "why"},
        {"line": 3, "error": "why"},  # the header is line 1
        {"lineNumber": "3", "error": "why"},
        {"id": "b", "error": "why"},  # id-like fields
        {"external_id": "b", "error": "why"},
        {"externalID": "b", "error": "why"},
        {"key": "b", "error": "why"},
        {"externalId": "b", "rowNumber": 2, "id": "ti-internal-77", "error": "why"},  # agreeing means
    ],
)
def test_an_invalid_row_is_matched_by_any_plausible_means(tmp_path: Path, entry: dict[str, Any]) -> None:
    # Given a dry run that refuses row b (the second data row) in one of many shapes
    fake = Recorder(with_invalid(True, entry), with_invalid(False))
    sub = provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)
    # Then b fails with the reason, and a and c go on to the import
    assert [(r.item_id, r.ok, r.code, r.message) for r in sub.results] == [("b", False, "INVALID_ROW", "why")]
    assert sub.job_ref == JOB
    assert [r["externalId"] for r in read_rows(fake.bodies()[1]["bulkImportAssetPath"])] == ["a", "c"]


@pytest.mark.parametrize(
    "entry",
    [
        {"error": "why"},  # nothing names the row
        {"externalId": "zz", "error": "why"},  # a key that is not in this asset
        {"externalId": 2, "error": "why"},
        {"row": {"externalId": "zz"}, "error": "why"},
        {"rowNumber": 0, "error": "why"},  # positions out of range
        {"rowNumber": 4, "error": "why"},
        {"rowIndex": 3, "error": "why"},
        {"line": 1, "error": "why"},  # the header
        {"rowNumber": -1, "error": "why"},
        {"rowNumber": 1.0, "error": "why"},
        {"rowNumber": True, "error": "why"},
        {"row": [2], "error": "why"},
        {"externalId": "a", "rowNumber": 2, "error": "why"},  # means that disagree
        {"id": "a", "key": "b", "error": "why"},
        {"id": "ti-internal-77", "error": "why"},  # TI's own id names none of ours
        "b",
        ["b", "why"],
        None,
        17,
    ],
)
def test_one_unmatched_invalid_row_fails_every_row_and_nothing_is_imported(
    tmp_path: Path, entry: Any
) -> None:
    # Given a dry run refusing c (matched) and a row no item can be matched to
    fake = Recorder(with_invalid(True, {"externalId": "c", "error": "bad c"}, entry))
    sub = provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)
    # Then nothing was imported, and no row counts as succeeded
    assert len(fake.requests) == 1 and sub.job_ref is None
    got = {r.item_id: (r.ok, r.code) for r in sub.results}
    assert got == {"a": (False, UNVERIFIED), "b": (False, UNVERIFIED), "c": (False, "INVALID_ROW")}
    assert "could not match" in (sub.results[0].message or "")


def test_an_unmatched_invalid_row_in_the_import_answer_leaves_no_job_to_poll(tmp_path: Path) -> None:
    # Given a clean dry run, then an import that refuses an unmatchable row
    fake = Recorder(with_invalid(True), with_invalid(False, {"error": "some row is bad"}))
    p = provider(fake, f"file://{tmp_path}")
    sub = p.submit("upsert", ITEMS)
    assert sub.job_ref is None and all(not r.ok and r.code == UNVERIFIED for r in sub.results)
    assert p._kv.get(keys.ti_job_rows("acme-ti", JOB)) is None


def test_positions_in_the_import_answer_count_the_rows_of_the_import_asset(tmp_path: Path) -> None:
    # Given a dry run refusing a, and an import (of b and c only) refusing its first data row
    fake = Recorder(
        with_invalid(True, {"externalId": "a", "error": "bad a"}),
        with_invalid(False, {"rowNumber": 1, "error": "bad b"}),
    )
    p = provider(fake, f"file://{tmp_path}")
    sub = p.submit("upsert", ITEMS)
    # Then row 1 of the import is b, and only c is in the job
    assert {r.item_id: r.message for r in sub.results} == {"a": "bad a", "b": "bad b"}
    assert json.loads(p._kv.get(keys.ti_job_rows("acme-ti", JOB))) == ["c"]


def test_line_numbers_are_not_trusted_when_a_cell_holds_a_line_break(tmp_path: Path) -> None:
    items = [item("a", description="two\nlines"), item("b"), item("c")]
    fake = Recorder(with_invalid(True, {"line": 3, "error": "why"}))
    sub = provider(fake, f"file://{tmp_path}").submit("upsert", items)
    assert sub.job_ref is None and all(r.code == UNVERIFIED for r in sub.results)


@pytest.mark.parametrize("invalid", [None, "none", {"externalId": "b"}, 0])
def test_invalid_rows_that_are_not_a_list_are_unverified(tmp_path: Path, invalid: Any) -> None:
    fake = Recorder(with_invalid(True, invalidRows=invalid))
    with pytest.raises(UnverifiedAnswer, match="invalidRows"):
        provider(fake, f"file://{tmp_path}").submit("upsert", ITEMS)


def test_an_answer_that_leaves_out_invalid_rows_is_unverified(tmp_path: Path) -> None:
    answer = {"data": {KEY: {"dryRun": True, "validRows": [], "backgroundJob": job()}}}
    with pytest.raises(UnverifiedAnswer, match="invalidRows"):
        provider(Recorder(httpx.Response(200, json=answer)), f"file://{tmp_path}").submit("upsert", ITEMS)


@pytest.mark.parametrize(
    "answer",
    [
        {"data": {"APIBackgroundJob": None}},
        {"data": {"APIBackgroundJob": [job("complete")]}},
        {"data": {"APIBackgroundJob": {**job(), "status": None}}},
        {"data": {"APIBackgroundJob": {**job(), "status": 1}}},
        {"data": {"APIBackgroundJob": {**job("complete"), "id": "another-job"}}},
        {"data": {"APIBackgroundJob": {k: v for k, v in job("complete").items() if k != "errorMessage"}}},
        {"data": {"APIBackgroundJob": {**job("complete"), "errorMessage": ["disk full"]}}},
        {"data": []},
        [],
        None,
    ],
)
def test_an_unreadable_job_poll_is_unverified(tmp_path: Path, answer: Any) -> None:
    p = provider(lambda req: httpx.Response(200, json=answer), f"file://{tmp_path}")
    p._kv.set(keys.ti_job_rows("acme-ti", JOB), json.dumps(["a"]))
    with pytest.raises(UnverifiedAnswer):
        p.poll(JOB)


def test_a_complete_job_with_a_null_error_message_succeeds(tmp_path: Path) -> None:
    done = polled(tmp_path, job("complete", error=None))  # type: ignore[arg-type]
    assert [r.ok for r in done.results] == [True, True]


def test_the_body_retry_hint_is_capped(tmp_path: Path) -> None:
    body = {"error": "rate_limit_exceeded", "message": "slow down", "retryAfter": 10**9}
    p = provider(Recorder(httpx.Response(429, json=body)), f"file://{tmp_path}")
    with pytest.raises(RateLimited) as info:
        p.poll(JOB)
    assert info.value.retry_after_s == max_hint_s()
