"""Bad input, end to end: every kind is refused with a clear message, and nothing else is disturbed.

Item-level kinds go through the real pipeline inside one mixed catalog (JSON Lines, and a CSV
one): each bad item must end ``invalid`` with a message naming the item (its id, or its line
when it has no usable id), the field and the reason, while every valid item of the same
catalog reaches the provider. Whole-file and configuration kinds go through the command line,
which must exit non-zero with the reason on stderr.
"""

from __future__ import annotations

import csv
import ctypes
import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.sync import start_run
from tests.integration.conftest import Pipeline, kombo_config
from workers import keys
from workers.ledger import item_errors

pytestmark = pytest.mark.integration

#: Never set anywhere: the connection that refers to it has a missing secret.
UNSET_SECRET_VAR = "IT_KOMBO_KEY_NEVER_SET"
TEN_MB = 10 * 1024 * 1024


def config(sandbox_url: str) -> str:
    """Three Kombo connections on one sandbox: the one under test, a bystander, and one whose
    API key refers to an environment variable no process has."""
    nosecret = kombo_config(sandbox_url, requests_per_minute=60_000, batch_size=100)
    nosecret = nosecret.replace("it-kombo]", "it-kombo-nosecret]").replace("IT_KOMBO_KEY", UNSET_SECRET_VAR)
    bystander = kombo_config(sandbox_url, requests_per_minute=60_000, batch_size=100)
    bystander = bystander.replace("it-kombo]", "it-kombo-b]")
    return kombo_config(sandbox_url, requests_per_minute=60_000, batch_size=100) + bystander + nosecret


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    return start_pipeline(config, sandbox_args=["--kombo-pending-s", "0.3"], concurrency=3)


def course(item_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": f"Course {item_id}", "url": f"https://learn.example/{item_id}", **fields}


def jline(item: Any) -> bytes:
    return json.dumps(item).encode()


@dataclass(frozen=True)
class Bad:
    """One bad catalog line and the message it must get."""

    kind: str
    line: bytes
    item: str | None  #: the id the message names; None: the item has no usable id, its line is named
    field: str  #: the field named ("" when the line could not be read as an item at all)
    reason: str  #: a fragment of the reason


BAD_JSONL = [
    Bad("malformed JSON", b'{"id": "bad-json", "title": ', None, "", "malformed JSON"),
    Bad("non-UTF-8 bytes", b'{"id": "bad-utf8", "title": "Caf\xe9", "url": "https://a.example/x"}', None, "",
        "not valid UTF-8 (byte 0xe9"),
    Bad("JSON nested too deeply", b"[" * 100_000, None, "", "nested too deeply"),
    Bad("a 5000-digit number", b'{"id": "bad-digits", "duration_minutes": ' + b"9" * 5000 + b"}", None, "",
        "more than 4300 digits"),
    Bad("not an object", b'["bad-array", 1]', None, "(item)", "must be an object, not list"),
    Bad("missing required field", jline({"id": "bad-no-title", "url": "https://a.example/t"}),
        "bad-no-title", "title", "Missing data for required field"),
    Bad("duplicate id", jline(course("ok-3", title="Second of its id")), "ok-3", "id", "duplicate id"),
    Bad("a 150,000-character description", jline(course("bad-150k", description="d" * 150_000)), "bad-150k",
        "description", "must be 0 to 100000 characters long"),
    Bad("a 10 MB description: a line over the cap", jline(course("bad-10mb", description="d" * TEN_MB)),
        "bad-10mb", "", "the line is longer than 1,048,576 bytes (COURSESYNC_CATALOG_MAX_LINE_BYTES)"),
    Bad("control character", jline(course("bad-bell", title="Ring\x07")), "bad-bell", "title",
        "control character U+0007"),
    Bad("javascript: URL", jline(course("bad-js", url="javascript:alert(1)")), "bad-js", "url",
        "must be an absolute http(s) URL"),
    Bad("URL without a host", jline(course("bad-nohost", url="https://")), "bad-nohost", "url",
        "must be an absolute http(s) URL"),
    Bad("negative duration", jline(course("bad-neg", duration_minutes=-5)), "bad-neg", "duration_minutes",
        "must be between 1 and 100000 minutes"),
    Bad("huge duration", jline(course("bad-huge", duration_minutes=10**12)), "bad-huge", "duration_minutes",
        "must be between 1 and 100000 minutes"),
    Bad("unknown field", jline(course("bad-titel", titel="typo")), "bad-titel", "titel", "Unknown field"),
    Bad("wrong type: text for a list", jline(course("bad-tags", tags="a,b")), "bad-tags", "tags",
        "Not a valid list"),
    Bad("wrong type: text for a number", jline(course("bad-dur", duration_minutes="90")), "bad-dur",
        "duration_minutes", "Not a valid integer"),
    Bad("wrong type: text for a boolean", jline(course("bad-active", active="yes")), "bad-active", "active",
        "Not a valid boolean"),
    Bad("id not a string", jline(course("x") | {"id": 42}), None, "id", "Not a valid string"),
    Bad("id too long", jline(course("L" * 256)), "L" * 255, "id", "must be 1 to 255 characters long"),
    Bad("empty title", jline(course("bad-empty", title="")), "bad-empty", "title",
        "must be 1 to 500 characters long"),
    Bad("unpaired surrogate", b'{"id": "bad-surrogate", "title": "Emoji \\ud83d cut", "url": "https://a.example/s"}',
        "bad-surrogate", "title", "unpaired surrogate U+D83D"),
    Bad("bad language tag", jline(course("bad-lang", languages=["english"])), "bad-lang", "languages[0]",
        "is not a BCP 47 tag"),
    Bad("unknown content type", jline(course("bad-type", content_type="hologram")), "bad-type",
        "content_type", "Must be one of"),
    Bad("bad date", jline(course("bad-date", updated_at="yesterday")), "bad-date", "updated_at",
        "must be an ISO 8601 date-time"),
    Bad("bad nested translation", jline(course("bad-tr", translations=[{"language": "fr", "title": 7}])),
        "bad-tr", "translations[0].title", "Not a valid string"),
    Bad("extra for an unknown provider", jline(course("bad-extra", extra={"moodle": {}})), "bad-extra",
        "extra.moodle", "is not a provider"),
]  # fmt: skip

N_VALID_JSONL = 300


def mixed_jsonl() -> tuple[bytes, dict[int, Bad]]:
    """300 valid items with every bad line among them, a byte-order mark first, blank lines;
    returns the bytes and the line number of each bad line."""
    lines: list[bytes] = []
    at: dict[int, Bad] = {}
    bad = iter(BAD_JSONL)
    for i in range(N_VALID_JSONL):
        lines.append(jline(course(f"ok-{i}")))
        if i % 10 == 5:
            lines.append(b"   ")  # blank lines are no items at all
        if i % 10 == 9 and (b := next(bad, None)) is not None:
            lines.append(b.line)
            at[len(lines)] = b
    assert len(at) == len(BAD_JSONL)
    lines[0] = b"\xef\xbb\xbf" + lines[0]  # a byte-order mark, as Windows tools write
    return b"\r\n".join(lines) + b"\r\n", at


N_VALID_CSV = 40


def mixed_csv() -> tuple[bytes, dict[int, Bad]]:
    """A CSV catalog (byte-order mark, CRLF) with row-level problems among valid rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "title", "url", "duration_minutes", "translations"])
    rows: list[bytes] = [buf.getvalue().encode()]
    bad_rows = [
        Bad("CSV row with a missing cell", b"csv-short,Short,https://a.example/short\r\n", None, "",
            "has 3 cells but the header has 5 columns"),
        Bad("CSV cell not UTF-8", b"csv-latin1,Caf\xe9,https://a.example/c,,\r\n", "csv-latin1", "",
            "title: not valid UTF-8"),
        Bad("CSV duration not a number", "csv-sup,T,https://a.example/s,\u00b2,\r\n".encode(), "csv-sup",
            "duration_minutes", "Not a valid integer"),
        Bad("CSV malformed JSON cell", b'csv-json,T,https://a.example/j,,"[{""language"": "\r\n', "csv-json", "",
            "translations: malformed JSON"),
        Bad("CSV empty required cell", b"csv-nourl,T,,,\r\n", "csv-nourl", "url",
            "Missing data for required field"),
    ]  # fmt: skip
    at: dict[int, Bad] = {}
    for i in range(N_VALID_CSV):
        buf = io.StringIO()
        csv.writer(buf).writerow(
            [f"csv-{i}", f"Course {i}", f"https://a.example/{i}", 30, '[{"language": "fr"}]']
        )
        rows.append(buf.getvalue().encode())
        if i % 8 == 3 and bad_rows:
            b = bad_rows.pop(0)
            rows.append(b.line)
            at[len(rows)] = b
    assert not bad_rows
    return b"\xef\xbb\xbf" + b"".join(rows), at


def assert_named(errors: list[dict[str, Any]], at: dict[int, Bad]) -> None:
    """Each bad line has an error naming its item (or line), its field and its reason."""
    for line, bad in at.items():
        label = bad.item if bad.item is not None else f"(line {line})"
        found = [e for e in errors if e["item_id"] == label and e.get("line") == line]
        assert found, f"{bad.kind}: no error for {label[:40]!r} at line {line}"
        e = found[0]
        assert e["stage"] == "validation" and e["field"] == bad.field, (bad.kind, e)
        assert bad.reason in e["message"], (bad.kind, e["message"][:300])
        if bad.field:
            assert e["message"].startswith(f"{bad.field}: "), (bad.kind, e["message"][:300])


def wait_all(pipeline: Pipeline, r: redis.Redis, run_ids: list[str]) -> list[dict[str, Any]]:
    return [pipeline.wait_for_run(r, run_id, timeout_s=120) for run_id in run_ids]


def test_every_bad_item_is_named_with_field_and_reason_and_every_valid_item_is_delivered(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a JSON Lines catalog and a CSV catalog mixing valid items with every kind of bad
    # item, a clean catalog on another connection, and a connection whose secret is missing
    r = pipeline.use(monkeypatch)
    jsonl_bytes, jsonl_bad = mixed_jsonl()
    csv_bytes, csv_bad = mixed_csv()
    (tmp_path / "mixed.jsonl").write_bytes(jsonl_bytes)
    (tmp_path / "mixed.csv").write_bytes(csv_bytes)
    (tmp_path / "bom.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps([course("bom-1"), course("bom-2")]).encode()
    )
    before = pipeline.sandbox("/_sandbox/stats")["kombo"]
    # When all of them are synced at once through the real pipeline
    runs = [
        start_run("it-kombo", str(tmp_path / "mixed.jsonl"), r=r),
        start_run("it-kombo", str(tmp_path / "mixed.csv"), r=r),
        start_run("it-kombo-b", [course(f"by-{i}") for i in range(250)], r=r),
        start_run("it-kombo-b", str(tmp_path / "bom.json"), r=r),
        start_run("it-kombo-nosecret", [course(f"ns-{i}") for i in range(150)], r=r),
    ]
    jsonl, csv_doc, bystander, bom, nosecret = wait_all(pipeline, r, runs)
    # Then every valid item of each mixed catalog succeeded, and every bad one is invalid
    assert jsonl["counts"] == {
        "total": N_VALID_JSONL + len(BAD_JSONL), "invalid": len(BAD_JSONL), "unchanged": 0, "excluded": 0,
        "submitted": N_VALID_JSONL, "succeeded": N_VALID_JSONL, "failed": 0, "pending": 0,
    }  # fmt: skip
    assert jsonl["state"] == "completed_with_errors"
    assert csv_doc["counts"]["succeeded"] == N_VALID_CSV and csv_doc["counts"]["invalid"] == len(csv_bad)
    assert csv_doc["counts"]["total"] == N_VALID_CSV + len(csv_bad) and csv_doc["counts"]["failed"] == 0
    # And each message names the item (or its line), the field and the reason
    assert_named(list(item_errors(r, runs[0])), jsonl_bad)
    assert_named(list(item_errors(r, runs[1])), csv_bad)
    # And the runs beside them were not disturbed
    assert bystander["state"] == "completed" and bystander["counts"]["succeeded"] == 250
    assert bom["state"] == "completed" and bom["counts"]["succeeded"] == 2  # a BOM is no error
    # And a missing secret is retried like an outage (it may be missing on one host only), then
    # fails that connection's items with the variable's name, nothing else
    assert nosecret["state"] == "failed" and nosecret["counts"]["failed"] == 150
    reasons = {e["message"] for e in item_errors(r, runs[4])}
    assert reasons == {
        "gave up after 8 attempts: coursesync.CONFIG: configuration problem (retried like an "
        f"outage): connections.it-kombo-nosecret.api_key refers to environment variable "
        f"{UNSET_SECRET_VAR}, which is not set"
    }
    # And the provider received exactly the valid items, each once, in one task per batch
    after = pipeline.sandbox("/_sandbox/stats")["kombo"]
    delivered = N_VALID_JSONL + N_VALID_CSV + 250 + 2
    assert after["items_received"] - before["items_received"] == delivered
    assert after["distinct_ids"] - before["distinct_ids"] == delivered
    batches = sum(d["batches"]["total"] for d in (jsonl, csv_doc, bystander, bom))
    assert after["tasks_created"] - before["tasks_created"] == batches


def test_one_bad_extra_kombo_value_is_one_invalid_item_and_the_rest_of_its_batch_is_delivered(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 100 items with extra.kombo, one of which gives Kombo a negative duration (which
    # makes Kombo refuse the whole request it is in)
    r = pipeline.use(monkeypatch)
    catalog = [course(f"ex-{i}", extra={"kombo": {"duration": 30}}) for i in range(100)]
    catalog[42]["extra"] = {"kombo": {"duration": -5}}
    before = pipeline.sandbox("/_sandbox/stats")["kombo"]
    # When it is synced
    run_id = start_run("it-kombo", catalog, r=r)
    doc = pipeline.wait_for_run(r, run_id)
    # Then that item alone is invalid, naming the field and why, and the 99 others succeeded
    assert doc["state"] == "completed_with_errors" and doc["counts"] == {
        "total": 100, "invalid": 1, "unchanged": 0, "excluded": 0, "submitted": 99, "succeeded": 99, "failed": 0, "pending": 0,
    }  # fmt: skip
    (error,) = item_errors(r, run_id)
    assert (error["item_id"], error["stage"], error["field"]) == (
        "ex-42",
        "validation",
        "extra.kombo.duration",
    )
    assert error["message"] == "extra.kombo.duration: -5 is less than or equal to the minimum of 0"
    after = pipeline.sandbox("/_sandbox/stats")["kombo"]
    assert after["items_received"] - before["items_received"] == 99
    assert after["tasks_created"] - before["tasks_created"] == doc["batches"]["total"] == 1


def cli(pipeline: Pipeline, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**pipeline.env, "PATH": "/usr/bin:/bin"}
    env.update(kwargs.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "coursesync.cli", *args],
        env=env, capture_output=True, text=True, timeout=60, **kwargs,
    )  # fmt: skip


#: (kind, file name, content, reason): the command must exit 1 with the reason on stderr.
WHOLE_FILE = [
    ("empty file", "empty.jsonl", b"", "the catalog holds no items"),
    ("only blank lines", "blank.jsonl", b"\n \n\t\n", "the catalog holds no items"),
    ("CSV header with a wrong column", "wrong.csv", b"id,name,url\n1,a,https://a.example\n",
     "CSV header has unknown column(s) ['name']"),
    ("CSV without a header row", "nohead.csv", b"c1,A course,https://a.example/1\n", "has no header row"),
    ("CSV header without a required column", "nourl.csv", b"id,title\n1,a\n",
     "CSV header lacks required column(s) ['url']"),
    ("JSON array with non-UTF-8 bytes", "latin1.json", b'[{"id": "a", "title": "Caf\xe9"}]',
     "not valid UTF-8 (byte 0xe9 at offset 26)"),
    ("JSON that is not an array", "object.json", b'{"id": "a"}', "must be a JSON array"),
    ("JSON array nested too deeply", "deep.json", b"[" * 100_000, "item 1: malformed JSON: nested too deeply"),
    ("gzip name but not gzip", "fake.jsonl.gz", b'{"id": "a"}\n', "is not valid gzip"),
    ("an unknown extension", "catalog.txt", b'{"id": "a"}\n', "cannot tell the format"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "name", "content", "reason"), WHOLE_FILE, ids=[k[0] for k in WHOLE_FILE])
def test_a_catalog_unreadable_as_a_whole_fails_its_run_with_the_reason_on_stderr(
    pipeline: Pipeline, tmp_path: Path, kind: str, name: str, content: bytes, reason: str
) -> None:
    # Given a catalog file that is broken as a whole
    path = tmp_path / name
    path.write_bytes(content)
    # When it is synced from the command line
    proc = cli(pipeline, "sync", "it-kombo", str(path))
    # Then the run is recorded as failed with the reason, which the command prints, exiting 1
    assert proc.returncode == 1, (kind, proc.stderr)
    run_id = proc.stdout.strip()
    assert f"coursesync: run {run_id} failed: " in proc.stderr and reason in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_oversized_lines_and_cells_are_invalid_a_gzip_bomb_fails_its_run_and_every_valid_item_is_delivered(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a gzipped JSON Lines catalog with two lines over the 1 MiB cap (one names its id
    # first, one does not), a CSV catalog with a 2 MB cell and a stray quote, and a gzip bomb
    # (50 MB of zeros after 100 valid items, 50 KB on disk); the long values do not compress, so
    # only the bomb trips the ratio cap
    r = pipeline.use(monkeypatch)
    noise = os.urandom(1 << 20).hex()  # 2 MB
    lines = [jline(course(f"big-{i}")) for i in range(200)]
    lines.insert(50, jline(course("big-first", description=noise)))
    lines.insert(120, jline({"title": "T", "description": noise, "id": "big-later"}))
    with gzip.open(tmp_path / "big.jsonl.gz", "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
    rows = [f"cell-{i},Course {i},https://a.example/c{i}\n".encode() for i in range(60)]
    rows.insert(20, f"cell-big,{noise},https://a.example/big\n".encode())
    rows.insert(40, b'cell-quote,"Stray quote,https://a.example/q\n')
    (tmp_path / "cells.csv").write_bytes(b"id,title,url\n" + b"".join(rows))
    with gzip.open(tmp_path / "bomb.jsonl.gz", "wb", compresslevel=9) as out:
        out.write(b"".join(jline(course(f"bomb-{i}")) + b"\n" for i in range(100)))
        for _ in range(50):
            out.write(bytes(1 << 20))
    before = pipeline.sandbox("/_sandbox/stats")["kombo"]
    # When they are synced through the real pipeline
    runs = [
        start_run("it-kombo", str(tmp_path / name), r=r)
        for name in ("big.jsonl.gz", "cells.csv", "bomb.jsonl.gz")
    ]
    big, cells, bomb = wait_all(pipeline, r, runs)
    # Then each oversized line or record is one invalid item at its line, named when it can be
    line_cap = "longer than 1,048,576 bytes (COURSESYNC_CATALOG_MAX_LINE_BYTES): skipped unread"
    assert big["state"] == "completed_with_errors" and big["counts"]["succeeded"] == 200
    assert sorted((e["item_id"], e["line"], e["message"]) for e in item_errors(r, runs[0])) == [
        ("(line 121)", 121, f"the line is {line_cap}"),
        ("big-first", 51, f"the line is {line_cap}"),
    ]
    assert cells["state"] == "completed_with_errors" and cells["counts"]["succeeded"] == 60
    assert sorted((e["item_id"], e["line"], e["message"]) for e in item_errors(r, runs[1])) == [
        ("cell-big", 22, f"the CSV record is {line_cap}"),
        ("cell-quote", 42, "a quoted cell opened on this line never closes: the file ends inside it"),
    ]
    # And the bomb fails its run naming the cap and the setting, after its valid items went out
    assert bomb["state"] == "failed" and bomb["counts"]["succeeded"] == 100
    assert "expands more than 400-fold (COURSESYNC_CATALOG_MAX_GZIP_RATIO)" in bomb["reason"]
    # And the provider received exactly the valid items
    after = pipeline.sandbox("/_sandbox/stats")["kombo"]
    assert after["items_received"] - before["items_received"] == 200 + 60 + 100


def test_a_truncated_json_array_fails_its_run_saying_where_it_ends(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a JSON array cut off in its third item
    r = pipeline.use(monkeypatch)
    path = tmp_path / "cut.json"
    path.write_bytes(json.dumps([course("cut-1"), course("cut-2"), course("cut-3")]).encode()[:-30])
    # When it is synced
    proc = cli(pipeline, "sync", "it-kombo", str(path))
    # Then the command says where the file ends, and the run ends failed (it never prunes)
    assert proc.returncode == 1
    assert "malformed JSON in item 3: the file ends inside it (truncated?)" in proc.stderr
    doc = pipeline.wait_for_run(r, proc.stdout.strip(), timeout_s=60)
    assert doc["state"] == "failed" and doc["reason"].startswith("malformed JSON in item 3")


def drop_file_read_override() -> None:
    """In the child, before exec: give up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, with which
    root reads any file whatever its mode (a no-op for an ordinary user, who has neither)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0 and os.geteuid() == 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_an_unreadable_catalog_file_fails_its_run_with_permission_denied(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given a catalog whose mode lets nobody read it, and a CLI without root's override of
    # file modes (tests may run as root, who reads mode-000 files through CAP_DAC_OVERRIDE)
    path = tmp_path / "secret.jsonl"
    path.write_bytes(jline(course("locked")) + b"\n")
    path.chmod(0o000)
    try:
        # When it is synced
        proc = cli(pipeline, "sync", "it-kombo", str(path), preexec_fn=drop_file_read_override)
    finally:
        path.chmod(0o600)
    # Then the run fails saying the file cannot be read
    assert proc.returncode == 1, proc.stderr
    assert f"catalog file {str(path)!r} cannot be read: permission denied" in proc.stderr


def test_a_catalog_that_fails_while_being_read_fails_its_run_not_the_command(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given a "file" whose reads fail with an I/O error (the process's own memory at offset 0)
    path = tmp_path / "eio.jsonl"
    path.symlink_to("/proc/self/mem")
    # When it is synced
    proc = cli(pipeline, "sync", "it-kombo", str(path))
    # Then the run fails with the system's reason, and the command does not crash
    assert proc.returncode == 1, proc.stderr
    assert "cannot be read: Input/output error" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("directory", "reason"), [(False, "not found"), (True, "is not a file")])
def test_a_catalog_path_that_is_no_file_fails_its_run(
    pipeline: Pipeline, tmp_path: Path, directory: bool, reason: str
) -> None:
    # Given a catalog path where there is nothing, or a directory
    target = tmp_path / "catalog.jsonl"
    if directory:
        target.mkdir()
    # When it is synced, the run fails saying what is there instead
    proc = cli(pipeline, "sync", "it-kombo", str(target))
    assert proc.returncode == 1
    assert f"{str(target)!r} {reason}" in proc.stderr, proc.stderr


#: (kind, config text given the sandbox URL, connection to sync, reason) -> exit 2 before any run.
CONFIGS: list[tuple[str, Callable[[str], str], str, str]] = [
    ("an unknown connection", config, "it-nope", "unknown connection 'it-nope'; configured: "),
    ("an unknown provider", lambda url: config(url).replace('"kombo"', '"moodle"', 1), "it-kombo",
     "connections.it-kombo.provider is 'moodle'; expected one of"),
    ("a missing required setting", lambda url: config(url).replace('integration_id = "sandbox:coursesync-demo"\n',
     "", 1), "it-kombo", "connections.it-kombo: missing required setting integration_id"),
    ("a setting of the wrong type", lambda url: config(url).replace("batch_size = 100", 'batch_size = "ten"', 1),
     "it-kombo", "connections.it-kombo.batch_size has the wrong type: 'ten'"),
    ("a file that is not TOML", lambda url: "[connections.it-kombo\nprovider = kombo", "it-kombo",
     "is not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "text", "connection", "reason"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_a_broken_configuration_is_a_usage_error_naming_the_setting(
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
    text: Callable[[str], str],
    connection: str,
    reason: str,
) -> None:
    # Given a connections file broken in one way
    r = pipeline.use(monkeypatch)
    broken = tmp_path / "broken.toml"
    broken.write_text(text(pipeline.stack.sandbox_url))
    (tmp_path / "c.jsonl").write_bytes(jline(course("cfg-1")) + b"\n")
    runs_before = r.zcard(keys.RUNS_INDEX)
    # When a sync is started with it
    proc = cli(
        pipeline, "sync", connection, str(tmp_path / "c.jsonl"), env={"COURSESYNC_CONFIG": str(broken)}
    )
    # Then the command exits 2 with the setting and the reason, and records no run
    assert proc.returncode == 2, (kind, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("coursesync: error: ") and reason in proc.stderr, proc.stderr
    assert r.zcard(keys.RUNS_INDEX) == runs_before


def test_a_missing_config_file_is_a_usage_error(pipeline: Pipeline, tmp_path: Path) -> None:
    # Given COURSESYNC_CONFIG naming a file that does not exist, when a sync is started
    proc = cli(
        pipeline, "sync", "it-kombo", "x.jsonl", env={"COURSESYNC_CONFIG": str(tmp_path / "none.toml")}
    )
    # Then the command exits 2 naming the file
    assert proc.returncode == 2
    assert f"configuration file {str(tmp_path / 'none.toml')!r} not found" in proc.stderr


def test_the_workers_keep_going_after_all_of_it(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given everything above went through this pipeline
    r = pipeline.use(monkeypatch)
    started = time.monotonic()
    # When a clean catalog follows
    doc = pipeline.wait_for_run(r, start_run("it-kombo", [course(f"after-{i}") for i in range(120)], r=r))
    # Then it completes as if nothing had happened
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 120
    assert time.monotonic() - started < 30
