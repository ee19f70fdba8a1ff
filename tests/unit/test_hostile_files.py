"""Hostile catalog files: each kind is one invalid record (its line and reason) or one catalog error
(its reason), and the valid items around it still come out.

Line caps are given small here (``CAP``).
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from producers.readers import Record, read_json_array, read_jsonl
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
