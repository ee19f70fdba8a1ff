"""Contract: what the client sends and what the sandbox answers match Thought Industries' docs.

There is no vendored schema for Thought Industries (its public pages are templated), so the
schemas below are written from the bulk import page [T1] and the jobs page [T9] (marked
"documented"), and from ``ti_assumptions`` where the docs are silent (marked with the
assumption). The client's bodies and assets must fit them, and the sandbox must answer in them
and refuse what they exclude.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from jsonschema import Draft202012Validator

from coursesync.sample import sample_items
from sandbox import SandboxServer, SandboxSettings
from sandbox.providers.thoughtindustries import contract as sandbox_ti
from sandbox.providers.thoughtindustries.contract import INVALID_ROW_SHAPES
from schemas.course import Course, validate_item
from workers.connections import Connection
from workers.errors import UNVERIFIED
from workers.providers.base import OutboundItem
from workers.providers.installed import get_plugin
from workers.providers.mapping import MappingError
from workers.providers.thoughtindustries.assumptions import (
    COLUMNS,
    CONTENTS,
    DEACTIVATION_UNSUPPORTED,
    DRY_RUN_FIELD,
    JOB_DONE_STATUSES,
    JOB_FAILED_STATUSES,
    KEY_COLUMN,
    REQUIRED_COLUMNS,
    ROW_ERROR_FIELD,
)
from workers.providers.thoughtindustries.client import ThoughtIndustriesProvider
from workers.providers.thoughtindustries.mapping import MAPPER, to_csv

UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ISO_8601 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
TEXT_CELLS = {c: {"type": "string"} for c in COLUMNS}

#: documented body [T1], plus the dry-run flag of assumption A5; nothing else.
BULK_REQUEST = {
    "type": "object",
    "properties": {
        "bulkImportAssetPath": {"type": "string", "minLength": 1},
        DRY_RUN_FIELD: {"type": "boolean"},
    },
    "required": ["bulkImportAssetPath"],
    "additionalProperties": False,
}
#: A3: the asset's columns, every cell text; A4: the key, title and url are never empty.
ROW = {
    "type": "object",
    "properties": TEXT_CELLS,
    "required": list(REQUIRED_COLUMNS),
    "additionalProperties": False,
}
#: A6: an invalid row is the row plus its reason.
INVALID_ROW = {
    "type": "object",
    "properties": {**TEXT_CELLS, ROW_ERROR_FIELD: {"type": "string", "minLength": 1}},
    "required": [KEY_COLUMN, ROW_ERROR_FIELD],
    "additionalProperties": False,
}
#: documented [T1][T9]: BackgroundJob.
BACKGROUND_JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": UUID},
        "type": {"type": "string"},
        "description": {"type": "string"},
        "errorMessage": {"type": "string"},
        "createdAt": {"type": "string", "pattern": ISO_8601},
        "repeatable": {"type": "boolean"},
        "status": {"type": "string"},
    },
    "required": ["id", "type", "description", "errorMessage", "createdAt", "repeatable", "status"],
    "additionalProperties": False,
}


def bulk_response(key: str) -> dict[str, Any]:
    """documented [T1]: ``{"data": {<ResponseKey>: {dryRun, validRows, invalidRows, backgroundJob}}}``."""
    result = {
        "type": "object",
        "properties": {
            "dryRun": {"type": "boolean"},
            "validRows": {"type": "array", "items": ROW},
            "invalidRows": {"type": "array", "items": INVALID_ROW},
            "backgroundJob": BACKGROUND_JOB,
        },
        "required": ["dryRun", "validRows", "invalidRows", "backgroundJob"],
        "additionalProperties": False,
    }
    data = {"type": "object", "properties": {key: result}, "required": [key], "additionalProperties": False}
    return {"type": "object", "properties": {"data": data}, "required": ["data"]}


#: documented [T9].
JOB_RESPONSE = {
    "type": "object",
    "properties": {
        "data": {
            "type": "object",
            "properties": {"APIBackgroundJob": BACKGROUND_JOB},
            "required": ["APIBackgroundJob"],
        }
    },
    "required": ["data"],
}
#: documented [T10]: the 429 body.
RATE_LIMITED = {
    "type": "object",
    "properties": {
        "error": {"const": "rate_limit_exceeded"},
        "message": {"type": "string"},
        "retryAfter": {"type": "integer", "minimum": 0},
    },
    "required": ["error", "message", "retryAfter"],
}

EDGE_CASES: list[dict[str, Any]] = [
    {"id": "edge-minimal", "title": "Only what is required", "url": "https://learn.example/min"},
    {
        "id": "edge-translated",
        "title": 'Übersetzt, "quoted"',
        "url": "https://learn.example/tr",
        "description": 'Line one,\nline two; with "quotes"',
        "languages": ["de-CH", "fr"],
        "translations": [{"language": "fr", "title": "Traduit", "description": "Une ligne"}],
    },
    {
        "id": "edge-extra",
        "title": "Extra columns",
        "url": "https://learn.example/x",
        "description": "cleared by extra",
        "extra": {
            "thoughtindustries": {
                "description": None,
                "durationMinutes": 30,
                "tags": ["a", "b"],
                "source": "TI",
            },
            "kombo": {"ignored": True},
        },
    },
]


def courses() -> list[Course]:
    records, _ = sample_items(500, prefix="contract")
    found = [c for c in (validate_item(r) for r in [*records, *EDGE_CASES]) if isinstance(c, Course)]
    assert len(found) > 480
    return found


def assert_valid(schema: dict[str, Any], doc: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(doc)]
    assert errors == [], errors[:5]


def test_every_row_fits_the_assumed_columns_and_survives_the_csv_round_trip() -> None:
    options = {"content": "courseGroup/webinar"}
    prepared = [MAPPER.prepare(c, options) for c in courses()]
    assert {op for op, _ in prepared} == {"upsert"}
    rows = [row for _, row in prepared]
    for row in rows:
        assert_valid(ROW, row)
    reader = csv.DictReader(io.StringIO(to_csv(rows).decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    assert [{k: v for k, v in back.items() if v} for back in reader] == rows
    by_id = {row[KEY_COLUMN]: row for row in rows}
    assert by_id["edge-extra"] == {
        "externalId": "edge-extra", "title": "Extra columns", "url": "https://learn.example/x",
        "contentType": "course", "durationMinutes": "30", "tags": "a;b", "source": "TI",
    }  # fmt: skip
    assert (
        by_id["edge-translated"]["language"] == "de-CH"
    )  # the default language; translations have no column


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"active": False}, "active", DEACTIVATION_UNSUPPORTED),
        ({"tags": ["a;b"]}, "tags[0]", "separates list values"),
        ({"extra": {"thoughtindustries": {"slug": "x"}}}, "extra.thoughtindustries.slug", "not a column"),
        (
            {"extra": {"thoughtindustries": {"externalId": "x"}}},
            "extra.thoughtindustries.externalId",
            "not a column",
        ),
        (
            {"extra": {"thoughtindustries": {"title": {"a": 1}}}},
            "extra.thoughtindustries.title",
            "must be text",
        ),
    ],
)
def test_what_the_asset_cannot_say_is_a_clear_mapping_error(
    extra: dict[str, Any], field: str, message: str
) -> None:
    course = validate_item({"id": "e", "title": "T", "url": "https://learn.example/e", **extra})
    assert isinstance(course, Course)
    with pytest.raises(MappingError) as info:
        MAPPER.prepare(course, {"content": "courseGroup/webinar"})
    assert info.value.field == field and message in info.value.message


def test_a_session_row_needs_its_course_group() -> None:
    raw = {"id": "s", "title": "T", "url": "https://learn.example/s"}
    plain = validate_item(raw)
    grouped = validate_item({**raw, "extra": {"thoughtindustries": {"courseGroup": "g1"}}})
    assert isinstance(plain, Course) and isinstance(grouped, Course)
    with pytest.raises(MappingError, match="course group"):
        MAPPER.prepare(plain, {"content": "session/webinar"})
    assert MAPPER.prepare(grouped, {"content": "session/webinar"})[1]["courseGroup"] == "g1"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxSettings(ti_pending_s=0.0)) as server:
        yield server


@pytest.mark.parametrize("store", ["file", "http"])
def test_the_clients_requests_and_the_sandboxs_answers_fit_the_documented_shapes(
    sandbox: SandboxServer, tmp_path: Path, store: str
) -> None:
    # Given the client on the sandbox, recording every exchange
    exchanges: list[httpx.Response] = []
    base = sandbox.url + "/thoughtindustries"
    asset_store = f"file://{tmp_path}" if store == "file" else base + "/assets"
    options = {"api_key": "ti_test_sandbox", "content": "courseGroup/webinar", "asset_store": asset_store}
    conn = Connection(
        "contract", "thoughtindustries", base, options, None, get_plugin("thoughtindustries").spec
    )
    items = [OutboundItem(c.id, "d", MAPPER.prepare(c, options)[1]) for c in courses()]
    items.append(OutboundItem("bad", "d", {"externalId": "bad", "title": "B", "url": "https://x.invalid/"}))
    with httpx.Client(event_hooks={"response": [lambda r: (r.read(), exchanges.append(r))]}) as http:
        provider = ThoughtIndustriesProvider(conn, http, fakeredis.FakeRedis(decode_responses=True))
        # When every item is submitted in batches of 250 and every job polled once
        subs = [provider.submit("upsert", items[i : i + 250]) for i in range(0, len(items), 250)]
        statuses = [provider.poll(s.job_ref) for s in subs if s.job_ref]
    # Then every body fits the documented request, every answer the documented response
    key = CONTENTS["courseGroup/webinar"]
    posts = [r for r in exchanges if r.request.method == "POST"]
    assert len(posts) == 2 * len(subs)
    for response in posts:
        assert_valid(BULK_REQUEST, json.loads(response.request.content))
        assert_valid(bulk_response(key), response.json())
    for response in (r for r in exchanges if r.request.method == "GET"):
        assert_valid(JOB_RESPONSE, response.json())
    assert all(s.state == "done" and all(r.ok for r in s.results) for s in statuses)
    refused = {r.item_id for s in subs for r in s.results if not r.ok}
    assert refused == {i.id for i in items if ".invalid/" in i.payload["url"]} and "bad" in refused
    assert sum(len(s.results) for s in statuses) == len(items) - len(refused)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"bulkImportAssetPath": 42},
        {"bulkImportAssetPath": ""},
        {"bulkImportAssetPath": "/a.csv", DRY_RUN_FIELD: "true"},
        {"bulkImportAssetPath": "/a.csv", "url": "https://x/a.csv"},
        ["/a.csv"],
    ],
)
def test_the_sandbox_refuses_bodies_outside_the_documented_request(sandbox: SandboxServer, body: Any) -> None:
    assert list(Draft202012Validator(BULK_REQUEST).iter_errors(body))
    resp = httpx.post(
        sandbox.url + "/thoughtindustries/incoming/v2/content/session/webinar/bulk",
        json=body,
        headers={"Authorization": "Bearer ti_test_sandbox"},
    )
    assert resp.status_code == 400 and set(resp.json()) == {"error", "message"}


def test_the_sandboxs_429_body_is_the_documented_one(sandbox: SandboxServer) -> None:
    sandbox.settings.ti_rate_per_s = 0.5
    url = sandbox.url + "/thoughtindustries/incoming/v2/jobs/x"
    answers = [httpx.get(url, headers={"Authorization": "Bearer ti_test_sandbox"}) for _ in range(2)]
    assert answers[-1].status_code == 429
    assert_valid(RATE_LIMITED, answers[-1].json())


def test_the_sandbox_and_the_client_agree_where_they_must_without_sharing_code() -> None:
    # The sandbox keeps its own constants (it imports nothing from workers); they must agree
    assert sandbox_ti.COLUMNS == COLUMNS and sandbox_ti.KEY_COLUMN == KEY_COLUMN
    assert sandbox_ti.CONTENTS == CONTENTS and sandbox_ti.DRY_RUN_FIELD == DRY_RUN_FIELD
    assert sandbox_ti.REQUIRED_COLUMNS == REQUIRED_COLUMNS
    assert sandbox_ti.JOB_COMPLETE in JOB_DONE_STATUSES
    assert sandbox_ti.JOB_RUNNING not in JOB_DONE_STATUSES | JOB_FAILED_STATUSES
    sandbox_sources = Path(sandbox_ti.__file__).parent.glob("*.py")
    assert not [
        p.name
        for p in sandbox_sources
        if "from workers" in p.read_text() or "import workers" in p.read_text()
    ]


@pytest.mark.parametrize("shape", [s for s in INVALID_ROW_SHAPES if s != "unattributable"])
@pytest.mark.parametrize("dry_run_first", [True, False])
def test_the_client_matches_invalid_rows_in_every_shape_the_sandbox_can_answer(
    sandbox: SandboxServer, tmp_path: Path, shape: str, dry_run_first: bool
) -> None:
    # Given the sandbox answering invalid rows in one shape, and a batch with two bad rows
    sandbox.settings.ti_invalid_rows_shape = shape
    with httpx.Client() as http:
        provider, items = ti_client(sandbox, tmp_path, dry_run_first, http)
        # When it is submitted and its job polled
        sub = provider.submit("upsert", items)
        status = provider.poll(sub.job_ref) if sub.job_ref else None
    # Then exactly the bad rows fail, with the sandbox's reason, and the others succeed
    assert {r.item_id: r.code for r in sub.results} == {"bad-1": "INVALID_ROW", "bad-2": "INVALID_ROW"}
    assert all("does not resolve" in (r.message or "") for r in sub.results)
    assert status is not None and status.state == "done"
    assert sorted(r.item_id for r in status.results if r.ok) == ["good-1", "good-2", "good-3"]


@pytest.mark.parametrize("dry_run_first", [True, False])
def test_an_unattributable_invalid_row_fails_the_whole_batch(
    sandbox: SandboxServer, tmp_path: Path, dry_run_first: bool
) -> None:
    sandbox.settings.ti_invalid_rows_shape = "unattributable"
    with httpx.Client() as http:
        provider, items = ti_client(sandbox, tmp_path, dry_run_first, http)
        sub = provider.submit("upsert", items)
    assert sub.job_ref is None and len(sub.results) == len(items)
    assert all(not r.ok and r.code == UNVERIFIED for r in sub.results)


def ti_client(
    sandbox: SandboxServer, tmp_path: Path, dry_run_first: bool, http: httpx.Client
) -> tuple[ThoughtIndustriesProvider, list[OutboundItem]]:
    base = sandbox.url + "/thoughtindustries"
    options = {
        "api_key": "ti_test_sandbox",
        "content": "courseGroup/webinar",
        "asset_store": f"file://{tmp_path}",
        "dry_run_first": dry_run_first,
    }
    conn = Connection(
        "shapes", "thoughtindustries", base, options, None, get_plugin("thoughtindustries").spec
    )
    good = [
        OutboundItem(
            f"good-{n}", "d", {"externalId": f"good-{n}", "title": "G", "url": f"https://ok.example/{n}"}
        )
        for n in (1, 2, 3)
    ]
    bad = [
        OutboundItem(f"bad-{n}", "d", {"externalId": f"bad-{n}", "title": "B", "url": "https://x.invalid/"})
        for n in (1, 2)
    ]
    items = [good[0], bad[0], good[1], bad[1], good[2]]
    return ThoughtIndustriesProvider(conn, http, fakeredis.FakeRedis(decode_responses=True)), items


def test_cells_a_spreadsheet_would_run_as_formulas_are_quoted_and_formula_keys_refused() -> None:
    from schemas.course import Course, validate_item
    from workers.providers.mapping import MappingError
    from workers.providers.thoughtindustries.mapping import MAPPER

    def course(**fields: object) -> Course:
        found = validate_item({"id": "c-1", "title": "T", "url": "https://learn.example/c", **fields})
        assert isinstance(found, Course), found
        return found

    _, row = MAPPER.prepare(
        course(title='=HYPERLINK("https://evil.example","click")', description="-2+3", source="@SUM(A1)"),
        {"content": "courseGroup/webinar"},
    )
    assert row["title"] == '\'=HYPERLINK("https://evil.example","click")'
    assert row["description"] == "'-2+3" and row["source"] == "'@SUM(A1)"
    assert row["url"] == "https://learn.example/c"  # untouched
    with pytest.raises(MappingError) as info:
        MAPPER.prepare(course(id="=cmd|' /C calc'!A0"), {"content": "courseGroup/webinar"})
    assert info.value.field == "id" and "formula" in info.value.message
