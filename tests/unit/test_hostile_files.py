"""Hostile catalog files: each kind is one invalid record (its line and reason) or one catalog error
(its reason), and the valid items around it still come out.

Line caps are given small here (``CAP``); the stream caps come from the settings, set through the
environment as an operator would.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from producers.readers import Record, read_csv, read_json_array, read_jsonl
from producers.sources import open_source, read_records
from producers.sync import SyncOptions, start_run
from schemas.course import validate_item
from tests.unit.helpers import configure_and_capture
from tests.unit.test_pipeline_inprocess import CONFIG
from workers import ledger
from workers.config import get_settings
from workers.errors import CatalogError

CAP = 256
LINE_REASON = f"longer than {CAP} bytes (COURSESYNC_CATALOG_MAX_LINE_BYTES): skipped unread"


def jl(item: object) -> bytes:
    return json.dumps(item).encode() + b"\n"


def ok(item_id: str) -> dict[str, str]:
    return {"id": item_id, "title": f"T {item_id}", "url": f"https://a.example/{item_id}"}


def outcome(records: list[Record]) -> list[tuple[int, str | None, str | None]]:
    """(position, id, error) of each record."""
    return [(r.position, r.data.get("id") if isinstance(r.data, dict) else None, r.error) for r in records]


def csv_rows(*rows: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


CSV_HEAD = b"id,title,url\n"


def csv_ok(item_id: str) -> bytes:
    return csv_rows([item_id, f"T {item_id}", f"https://a.example/{item_id}"])


# --- JSON Lines -------------------------------------------------------------------------------


def test_a_json_line_over_the_cap_is_one_invalid_item_named_by_its_id_and_the_next_lines_are_read() -> None:
    # Given a line of 10 KB between two valid ones, and a line of exactly the cap
    at_cap = b'{"id": "edge", "d": "' + b"e" * (CAP - 23) + b'"}'
    assert len(at_cap) == CAP
    data = jl(ok("a")) + jl(ok("big") | {"description": "x" * 10_000}) + at_cap + b"\n" + jl(ok("c"))
    # When it is read
    recs = list(read_jsonl(io.BytesIO(data), CAP))
    # Then the long line is one invalid item at line 2, named by its id; the others are read
    assert outcome(recs) == [
        (1, "a", None),
        (2, "big", f"the line is {LINE_REASON}"),
        (3, "edge", None),
        (4, "c", None),
    ]


def test_an_oversized_line_whose_first_key_is_not_id_names_no_item() -> None:
    # Given a long line whose only "id" is nested (it could be anyone's), and one with a BOM
    nested = {"extra": {"kombo": {"id": "not-me"}}, "id": "real", "description": "x" * 1000}
    data = b"\xef\xbb\xbf" + jl(nested) + jl(ok("b"))
    # When it is read, the line is invalid at line 1 with no id: a guessed id is worse than none
    recs = list(read_jsonl(io.BytesIO(data), CAP))
    assert outcome(recs) == [(1, None, f"the line is {LINE_REASON}"), (2, "b", None)]


def test_an_oversized_last_line_without_a_newline_is_invalid_after_the_valid_ones() -> None:
    # Given a catalog that ends in 1 MB of one line, no newline after it
    data = jl(ok("a")) + jl(ok("b")) + b'{"id": "tail", "t": "' + b"z" * 1_000_000
    # When it is read, then the tail is line 3, invalid, named
    recs = list(read_jsonl(io.BytesIO(data), CAP))
    assert outcome(recs) == [(1, "a", None), (2, "b", None), (3, "tail", f"the line is {LINE_REASON}")]


def test_an_oversized_line_of_nul_and_invalid_utf8_bytes_is_one_invalid_line() -> None:
    # Given a long line of NUL and 0xff bytes, and a short line with NUL bytes outside a string
    data = jl(ok("a")) + b"\x00\xff" * 5000 + b"\n" + b'{"id": "n"}\x00\n' + jl(ok("c"))
    # When it is read
    recs = list(read_jsonl(io.BytesIO(data), CAP))
    # Then each is one invalid line with its reason
    assert outcome(recs)[:2] == [(1, "a", None), (2, None, f"the line is {LINE_REASON}")]
    assert recs[2].position == 3 and recs[2].error is not None and recs[2].error.startswith("malformed JSON")
    assert outcome(recs)[3] == (4, "c", None)


# --- JSON arrays ------------------------------------------------------------------------------


def test_a_json_array_item_over_the_cap_is_skipped_and_the_next_items_are_read() -> None:
    # Given an item whose strings hold brackets, quotes and escapes, over the cap
    tricky = {"id": "big", "d": 'a]}"\\' * 500, "n": [[{"x": "]"}]], "e": "\\"}
    data = json.dumps([ok("a"), tricky, ok("c"), ok("d")]).encode()
    # When it is read
    recs = list(read_json_array(io.BytesIO(data), CAP))
    # Then it is item 2, invalid and named; the lexer found its end exactly, so 3 and 4 are read
    assert outcome(recs) == [
        (1, "a", None),
        (2, "big", f"the item is {LINE_REASON}"),
        (3, "c", None),
        (4, "d", None),
    ]
    assert recs[2].data == ok("c")


def test_oversized_bare_strings_and_numbers_in_a_json_array_are_invalid_items() -> None:
    # Given a long string and a long number among items (the number also over 4300 digits)
    data = b'[{"id": "a"}, "' + b"s" * 1000 + b'", ' + b"7" * 300 + b', {"id": "d"}]'
    # When it is read, each is one invalid item naming no id
    recs = list(read_json_array(io.BytesIO(data), CAP))
    assert outcome(recs) == [
        (1, "a", None),
        (2, None, f"the item is {LINE_REASON}"),
        (3, None, f"the item is {LINE_REASON}"),
        (4, "d", None),
    ]


def test_an_oversized_json_array_item_cut_off_by_the_end_of_file_fails_the_catalog() -> None:
    # Given an array whose second item never ends
    data = b'[{"id": "a"}, {"id": "b", "d": "' + b"x" * 10_000
    # When it is read, the first item comes out, then the catalog fails saying where
    recs: list[Record] = []
    with pytest.raises(CatalogError, match=r"malformed JSON in item 2: the file ends inside it"):
        recs.extend(read_json_array(io.BytesIO(data), CAP))
    assert outcome(recs) == [(1, "a", None)]


class _Counting(io.BytesIO):
    """A stream that remembers how far it was read."""

    furthest = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return data


def test_a_malformed_json_array_item_fails_at_once_without_reading_the_rest() -> None:
    # Given an item with a syntax error, then 20 MB more of the array
    stream = _Counting(b'[{"id": "a"}, {"id": x}, ' + b'{"id": "y"}, ' * 1_600_000 + b"{}]")
    # When it is read, it fails naming the item and the error
    with pytest.raises(CatalogError, match=r"malformed JSON in item 2: Expecting value"):
        list(read_json_array(stream, 1 << 20))
    # And it never read (and held) the rest of the file to find out
    assert stream.furthest < 1 << 17


# --- CSV --------------------------------------------------------------------------------------


def test_a_csv_cell_over_the_csv_modules_131072_characters_is_read_when_under_the_cap() -> None:
    # Given a translations cell of 200,000 characters (csv's own limit failed the whole run)
    translations = json.dumps([{"language": "fr", "description": "d" * 200_000}])
    data = CSV_HEAD.replace(b"\n", b",translations\n") + csv_rows(
        ["a", "A", "https://a.example/a", "[]"], ["big", "B", "https://a.example/b", translations]
    )
    # When it is read with the default cap, then both items come out whole
    recs = list(read_csv(io.BytesIO(data)))
    assert [r.error for r in recs] == [None, None]
    assert recs[1].data["translations"][0]["description"] == "d" * 200_000


def test_a_csv_record_over_the_cap_is_one_invalid_item_named_by_its_id() -> None:
    # Given a row with a 10 KB cell between valid rows
    data = CSV_HEAD + csv_ok("a") + csv_rows(["big", "x" * 10_000, "https://b.example"]) + csv_ok("c")
    # When it is read, then it is line 3, invalid and named; line 4 is read
    recs = list(read_csv(io.BytesIO(data), CAP))
    assert outcome(recs) == [(2, "a", None), (3, "big", f"the CSV record is {LINE_REASON}"), (4, "c", None)]


def test_a_quote_that_never_closes_is_one_invalid_record_and_the_rows_it_swallowed_are_read_again() -> None:
    # Given a stray quote on line 3 that would make the rest of the file one cell
    data = CSV_HEAD + csv_ok("a") + b'b,"Intro,https://b.example\n' + csv_ok("c") + csv_ok("d")
    # When it is read
    recs = list(read_csv(io.BytesIO(data), 1 << 20))
    # Then line 3 is invalid with the reason, and lines 4 and 5 are read as rows of their own
    assert outcome(recs) == [
        (2, "a", None),
        (3, "b", "a quoted cell opened on this line never closes: the file ends inside it"),
        (4, "c", None),
        (5, "d", None),
    ]


def test_a_stray_quote_closed_rows_later_is_one_invalid_record_and_the_rows_between_are_read_again() -> None:
    # Given a stray quote on line 2 that a legitimately quoted multi-line cell on line 5 "closes"
    data = (
        CSV_HEAD
        + b'a,5" screen,https://a.example\n'  # a quote inside an unquoted cell is just a character
        + b'b,"Open,https://b.example\n'
        + csv_ok("c")
        + csv_ok("d")
        + b'e,"two\nlines",https://e.example\n'
        + csv_ok("f")
    )
    # When it is read
    recs = list(read_csv(io.BytesIO(data), 1 << 20))
    # Then line 3 is invalid, naming how far its quote ran, and every row after it is read
    assert outcome(recs)[0] == (2, "a", None) and recs[0].data["title"] == '5" screen'
    assert outcome(recs)[1] == (
        3,
        "b",
        "a quoted cell opened on this line runs on to line 6, and its 2 cells do not match the "
        "header's 3 (a stray quote?)",
    )
    assert outcome(recs)[2:] == [(4, "c", None), (5, "d", None), (6, "e", None), (8, "f", None)]
    assert recs[4].data["title"] == "two\nlines"  # a real multi-line cell, at its first line


def test_an_unclosed_quote_running_past_the_cap_mid_file_is_invalid_and_the_rows_after_are_read() -> None:
    # Given an unclosed quote on line 3 followed by 100 rows, more than the cap
    rows = b"".join(csv_ok(f"r{i}") for i in range(100))
    data = CSV_HEAD + csv_ok("a") + b'b,"Open,https://b.example\n' + rows
    # When it is read
    recs = list(read_csv(io.BytesIO(data), 1024))
    # Then line 3 is one invalid record, and all 100 rows come out, at their own lines
    assert outcome(recs)[:2] == [
        (2, "a", None),
        (
            3,
            "b",
            "the CSV record is longer than 1,024 bytes (COURSESYNC_CATALOG_MAX_LINE_BYTES): skipped unread",
        ),
    ]
    assert outcome(recs)[2:] == [(4 + i, f"r{i}", None) for i in range(100)]


def test_a_carriage_return_inside_an_unquoted_csv_cell_is_part_of_the_cell() -> None:
    # Given a bare CR inside an unquoted cell, as Python's csv.writer writes one when its lines
    # end in "\n" (csv's reader refused it, and failed the whole run)
    data = CSV_HEAD + csv_ok("a") + b"b,Ti\rtle,https://b.example\n" + b"c,C\r\r,https://c\r\n" + csv_ok("d")
    # When it is read, then the CR is part of the cell, and the lines after are read
    recs = list(read_csv(io.BytesIO(data), CAP))
    assert outcome(recs) == [(2, "a", None), (3, "b", None), (4, "c", None), (5, "d", None)]
    assert recs[1].data["title"] == "Ti\rtle" and recs[2].data["title"] == "C\r\r"


def test_a_multi_line_cell_closed_by_a_quote_then_text_and_a_cr_is_one_invalid_record() -> None:
    # Given a quoted cell over two lines whose closing quote has text and a bare CR after it
    data = CSV_HEAD + csv_ok("a") + b'b,"two\nlines"x\ry,https://b.example\n' + csv_ok("c")
    # When it is read
    recs = list(read_csv(io.BytesIO(data), CAP))
    # Then the record is invalid at its first line, its second line is read again on its own
    # (and refused for its cells), and the next row is read
    assert outcome(recs) == [
        (2, "a", None),
        (3, "b", "a quoted cell opened on this line runs on to line 4, where a closing quote is "
         "followed by other text (a stray quote?)"),
        (4, None, "has 2 cells but the header has 3 columns"),
        (5, "c", None),
    ]  # fmt: skip


def test_nul_bytes_in_a_csv_cell_reach_validation_which_names_the_field() -> None:
    # Given a NUL inside a title (older Pythons' csv failed the whole file on it)
    data = CSV_HEAD + csv_ok("a") + b"b,Ti\x00tle,https://b.example\n" + csv_ok("c")
    # When it is read and validated
    recs = list(read_csv(io.BytesIO(data), CAP))
    # Then only that item is invalid, naming the field and the character
    assert [r.error for r in recs] == [None, None, None]
    verdicts = [validate_item(r.data) for r in recs]
    assert [(e.field, e.message) for e in verdicts[1]] == [("title", "contains control character U+0000")]  # type: ignore[union-attr]
    assert not isinstance(verdicts[0], list) and not isinstance(verdicts[2], list)


def test_a_csv_with_bare_cr_line_endings_fails_as_a_whole_naming_the_carriage_return() -> None:
    # Given a file whose lines end in a bare CR (classic Mac tools): to us one long line
    data = b"id,title,url\rb,T,https://b.example\r"
    # When it is read, then the header row cannot be read, and the reason says why
    with pytest.raises(CatalogError, match="header row cannot be read: malformed CSV: a carriage return"):
        list(read_csv(io.BytesIO(data), CAP))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"id,title,url," + b"x" * 300 + b"\n", "the CSV header row is longer than 256 bytes"),
        (b'id,title,"url\n', "the CSV header row opens a quoted cell that never closes"),
    ],
)
def test_a_csv_header_over_the_cap_or_with_an_open_quote_fails_the_catalog(
    header: bytes, reason: str
) -> None:
    with pytest.raises(CatalogError, match=reason):
        list(read_csv(io.BytesIO(header + csv_ok("a")), CAP))


def test_thousands_of_stray_quotes_are_each_one_invalid_record_read_in_linear_time() -> None:
    # Given 20,000 rows, each with a quote that opens a cell the next row's quote "closes"
    data = CSV_HEAD + b"".join(b'r%d,"T,https://a.example/%d\n' % (i, i) for i in range(20_000))
    # When it is read
    started = time.perf_counter()
    recs = list(read_csv(io.BytesIO(data), 1 << 20))
    # Then every row is one invalid record at its own line (none swallowed into another's
    # title), and no line was read a third time: it ends in linear time
    assert [r.position for r in recs] == list(range(2, 20_002))
    assert [r.data for r in recs[:2]] == [{"id": "r0"}, {"id": "r1"}]
    assert recs[0].error == (
        "a quoted cell opened on this line runs on to line 3, where a closing quote is followed by "
        "other text (a stray quote?)"
    )
    assert recs[-1].error == "a quoted cell opened on this line never closes: the file ends inside it"
    assert time.perf_counter() - started < 5


# --- The stream: size, gzip ratio, gzip damage; files and URLs alike -----------------------------


def gz_bomb(path: Path, valid: bytes, megabytes: int, fill: bytes = b"\0", tail: bytes = b"") -> None:
    """Valid lines, ``megabytes`` MB of ``fill``, then ``tail``, gzipped (written a MB at a time)."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(valid)
        for _ in range(megabytes):
            out.write(fill * (1 << 20))
        out.write(tail)


VALID = b"".join(jl(ok(f"v{i}")) for i in range(500))


def read_all(source: str, fmt: str, into: list[Record]) -> None:
    with open_source(source) as stream:
        into.extend(read_records(stream, fmt))


def test_a_gzip_bomb_stops_the_catalog_naming_the_ratio_and_its_setting(tmp_path: Path) -> None:
    # Given 500 valid items followed by 50 MB of zeros in a 50 KB gzip
    path = tmp_path / "bomb.jsonl.gz"
    gz_bomb(path, VALID, 50)
    # When it is read
    recs: list[Record] = []
    with pytest.raises(CatalogError) as caught:
        read_all(str(path), "jsonl", recs)
    # Then the catalog fails naming the cap and the setting that raises it, after the valid items
    assert "expands more than 400-fold (COURSESYNC_CATALOG_MAX_GZIP_RATIO)" in str(caught.value)
    assert [r.data["id"] for r in recs] == [f"v{i}" for i in range(500)]


def test_a_catalog_over_the_size_cap_stops_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plain catalog of 5000 items (300 KB) and a size cap that falls in its middle
    catalog = b"".join(jl(ok(f"v{i}")) for i in range(5000))
    monkeypatch.setenv("COURSESYNC_CATALOG_MAX_BYTES", str(len(catalog) // 2))
    (tmp_path / "big.jsonl").write_bytes(catalog)
    # When it is read
    recs: list[Record] = []
    with pytest.raises(CatalogError, match=r"larger than [\d,]+ bytes \(COURSESYNC_CATALOG_MAX_BYTES\)"):
        read_all(str(tmp_path / "big.jsonl"), "jsonl", recs)
    # Then the items before the cap were read, and none past it
    assert 0 < len(recs) < 2500 and [r.data["id"] for r in recs] == [f"v{i}" for i in range(len(recs))]


def test_corrupt_or_truncated_gzip_fails_the_catalog_naming_the_file(tmp_path: Path) -> None:
    whole = gzip.compress(VALID * 4)
    corrupt = whole[:200] + bytes(b ^ 0x5A for b in whole[200:260]) + whole[260:]
    for name, data in (("corrupt.jsonl.gz", corrupt), ("cut.jsonl.gz", whole[: len(whole) // 2])):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CatalogError, match=f"catalog file '.*{name}' is not valid gzip"):
            read_all(str(tmp_path / name), "jsonl", [])


def test_a_gzip_stream_of_endless_empty_members_stops_at_the_size_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a gzip of only empty members (nothing decompressed to count) beyond the size cap
    monkeypatch.setenv("COURSESYNC_CATALOG_MAX_BYTES", "100000")
    (tmp_path / "empty.jsonl.gz").write_bytes(gzip.compress(b"") * 20_000)
    # When it is read, it stops at the cap instead of reading on
    with pytest.raises(CatalogError, match="COURSESYNC_CATALOG_MAX_BYTES"):
        read_all(str(tmp_path / "empty.jsonl.gz"), "jsonl", [])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str, bytes], str]]:
    """A local HTTP server: ``serve(name, body)`` returns the URL that answers with ``body``."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path.lstrip("/").split("?")[0], b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def add(name: str, body: bytes) -> str:
        bodies[name] = body
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield add
    server.shutdown()
    server.server_close()


def test_the_caps_apply_to_catalogs_read_from_a_url(
    serve: Callable[[str, bytes], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a gzip bomb and a catalog with a 2 MB line, both served over HTTP (on loopback,
    # which the outbound policy lets a catalog URL reach only when told to)
    monkeypatch.setenv("COURSESYNC_OUTBOUND_ALLOW", "loopback")
    gz_bomb(tmp_path / "bomb.jsonl.gz", VALID, 50)
    bomb = serve("bomb.jsonl.gz", (tmp_path / "bomb.jsonl.gz").read_bytes())
    long_line = serve(
        "long.jsonl", jl(ok("a")) + jl(ok("big") | {"description": "x" * 2_000_000}) + jl(ok("c"))
    )
    # When each is read
    recs: list[Record] = []
    with pytest.raises(CatalogError, match="COURSESYNC_CATALOG_MAX_GZIP_RATIO"):
        read_all(bomb, "jsonl", recs)
    assert len(recs) == 500  # the valid items before the bomb came out
    recs = []
    read_all(long_line, "jsonl", recs)
    # Then the bomb stops its catalog, and the long line is one invalid item, as for files
    assert outcome(recs) == [
        (1, "a", None),
        (
            2,
            "big",
            "the line is longer than 1,048,576 bytes (COURSESYNC_CATALOG_MAX_LINE_BYTES): skipped unread",
        ),
        (3, "c", None),
    ]


def test_a_corrupt_gzip_from_a_url_fails_the_catalog_naming_the_url_redacted(
    serve: Callable[[str, bytes], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a signed catalog URL whose gzip is corrupt, and one cut short
    monkeypatch.setenv("COURSESYNC_OUTBOUND_ALLOW", "loopback")
    whole = gzip.compress(VALID * 4)
    corrupt = whole[:200] + bytes(b ^ 0x5A for b in whole[200:260]) + whole[260:]
    for name, data in (("corrupt.jsonl.gz", corrupt), ("cut.jsonl.gz", whole[: len(whole) // 2])):
        url = serve(name, data) + "?X-Amz-Signature=topsecret"
        # When it is read, it fails as a catalog error (not a crash of the producer) that names
        # the URL without its signature
        with pytest.raises(CatalogError, match=f"catalog URL .*{name}.* is not valid gzip") as caught:
            read_all(url, "jsonl", [])
        assert "topsecret" not in str(caught.value)


def test_the_caps_given_to_a_run_are_the_ones_its_catalog_is_read_with(
    tmp_path: Path, r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run started with its own settings: a 2,000-byte line cap (the environment's is 1 MiB)
    configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})
    path = tmp_path / "c.jsonl"
    path.write_bytes(jl(ok("a")) + jl(ok("big") | {"description": "x" * 5_000}) + jl(ok("c")))
    settings = replace(get_settings(), catalog_max_line_bytes=2_000)
    # When its catalog is read
    run_id = start_run("acme", str(path), SyncOptions(), r=r, settings=settings)
    # Then the run's cap applied: the 5 KB line is the one invalid item
    errors = list(ledger.item_errors(r, run_id))
    assert [(e.get("line"), e.get("item_id")) for e in errors] == [(2, "big")], errors
    assert "2,000 bytes" in str(errors[0])


def peak_bytes_reading(source: str, fmt: str) -> tuple[int, list[Record], CatalogError | None]:
    """Peak bytes Python allocated while reading ``source``, what came out, and the catalog error."""
    recs: list[Record] = []
    error = None
    tracemalloc.start()
    try:
        read_all(source, fmt, recs)
    except CatalogError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, recs, error


def test_a_50_mb_gzip_bomb_is_stopped_early_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given, in each format, a valid item, 50 MB of one byte (a line, an item, a record), another
    # valid item, gzipped into 50 KB
    bombs = {
        "jsonl": (jl(ok("a")), b"\0", b"\n" + jl(ok("z"))),
        "json": (b'[{"id": "a"}, "', b"s", b'", {"id": "z"}]'),
        "csv": (CSV_HEAD + csv_ok("a"), b"\0", b"\n" + csv_ok("z")),
    }
    for fmt, (head, fill, tail) in bombs.items():
        gz_bomb(tmp_path / f"bomb.{fmt}.gz", head, 50, fill, tail)
        # When it is read, then it stops at the ratio cap, having held at most a few MB
        peak, recs, error = peak_bytes_reading(str(tmp_path / f"bomb.{fmt}.gz"), fmt)
        assert error is not None and "COURSESYNC_CATALOG_MAX_GZIP_RATIO" in str(error), fmt
        assert peak < 8 << 20 and outcome(recs) == [(1 if fmt != "csv" else 2, "a", None)], (fmt, peak)
    # And with the ratio cap raised out of its way, each reader skips the 50 MB in bounded
    # chunks: one invalid record, then the last item; memory a few times the 1 MiB line cap
    monkeypatch.setenv("COURSESYNC_CATALOG_MAX_GZIP_RATIO", "100000")
    get_settings.cache_clear()
    for fmt in bombs:
        peak, recs, error = peak_bytes_reading(str(tmp_path / f"bomb.{fmt}.gz"), fmt)
        assert error is None and peak < 8 << 20, (fmt, error, peak)
        assert [r.data.get("id") if r.data else None for r in recs] == ["a", None, "z"], fmt
        assert recs[1].error is not None and "longer than 1,048,576 bytes" in recs[1].error
