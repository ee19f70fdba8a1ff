"""Fuzzing the catalog readers: generated catalogs, broken as bytes, never break a reader.

Catalogs of generated items are written as JSON Lines, a JSON array or CSV (LF or CRLF, ASCII or
UTF-8), then broken: random bytes, NULs, byte-order marks, invalid UTF-8, quotes, carriage
returns, deep nesting, lines over the cap, truncation, deletions. They are read with a small line
cap, through a stream that returns short reads (so items straddle reads). For every input:

(a) reading raises nothing but ``CatalogError`` (the file as a whole is unreadable);
(b) every record either parses (``error`` None) or carries a reason, and an oversized one names
    no id it could not read; positions rise; and ``prepare`` turns each into an item or reasons
    without raising.

Besides: an unbroken catalog reads back exactly; the JSON skipper ends every JSON value where the
parser does; a damaged gzip stream through ``open_source`` fails only with ``CatalogError``.
Bounded memory on a 50 MB gzip bomb is measured in ``test_hostile_files``.

``COURSESYNC_FUZZ_EXAMPLES=N`` runs N randomized examples per property (a longer hunt), e.g.
``COURSESYNC_FUZZ_EXAMPLES=20000 ./run test tests/unit/test_readers_fuzz.py``; unset: 200,
derandomized, so the unit suite stays fast and reproducible.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.json_skip import JsonSkipper
from producers.prepare import prepare
from producers.readers import Record, read_csv, read_json_array, read_jsonl
from producers.sources import open_source, read_records
from workers.errors import CatalogError
from workers.providers.installed import get_mapper

_LONG = os.environ.get("COURSESYNC_FUZZ_EXAMPLES")
#: A long session outlasts the suite's per-test timeout by design.
pytestmark = [pytest.mark.timeout(0)] if _LONG else []
FUZZ = settings(
    max_examples=int(_LONG) if _LONG else 200,
    derandomize=not _LONG,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

READERS: dict[str, Callable[[IO[bytes], int], Iterator[Record]]] = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "csv": read_csv,
}
MAPPER = get_mapper("kombo")

#: Text with what breaks formats: quotes, commas, brackets, escapes, newlines, CR, NUL, non-ASCII.
TEXT = st.text(
    alphabet=st.sampled_from("ab ,;\"'\\[]{}:\n\r\t\x00\x07é€😀\ufeff\u2028") | st.characters(codec="utf-8"),
    max_size=12,
)
ITEMS = st.lists(
    st.fixed_dictionaries(
        {"id": TEXT, "title": TEXT, "url": st.sampled_from(["https://a.example/x", "ftp://x", ""])},
        optional={
            "description": TEXT,
            "tags": st.lists(TEXT, max_size=3),
            "duration_minutes": st.integers(min_value=-5, max_value=2**70),
            "active": st.booleans(),
            "extra": st.dictionaries(
                st.sampled_from(["kombo", "moodle"]), st.dictionaries(TEXT, TEXT, max_size=2)
            ),
        },
    ),
    max_size=6,
)
CSV_COLUMNS = ["id", "title", "url", "description", "tags", "duration_minutes", "active", "extra"]

#: Inserted at random places: the bytes that break readers.
TOKENS = st.sampled_from(
    [
        b"\x00", b"\xef\xbb\xbf", b"\xff", b"\xc3", b"\xed\xa0\x80", b'"', b'""', b"\r", b"\n",
        b"\r\n", b"\\", b",", b"]", b"}", b"[", b"{", b"[" * 3000, b'{"a":' * 300, b"x" * 700,
        b'"' + b"q" * 700, b"9" * 5000, b"\\u12", b"\\ud83d", b"-", b"tru", b"NaN", b"1e999",
    ]
)  # fmt: skip


@st.composite
def catalogs(draw: st.DrawFn, fmt: str) -> bytes:
    items = draw(ITEMS)
    crlf, ascii_only = draw(st.booleans()), draw(st.booleans())
    if fmt == "jsonl":
        end = b"\r\n" if crlf else b"\n"
        return b"".join(json.dumps(i, ensure_ascii=ascii_only).encode() + end for i in items)
    if fmt == "json":
        return json.dumps(items, ensure_ascii=ascii_only, indent=draw(st.sampled_from([None, 1]))).encode()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(CSV_COLUMNS)
    for i in items:
        row = {
            **i,
            "tags": ";".join(i.get("tags", [])),
            "extra": json.dumps(i["extra"]) if "extra" in i else "",
        }
        writer.writerow([row.get(c, "") for c in CSV_COLUMNS])
    return buf.getvalue().encode()


@st.composite
def broken(draw: st.DrawFn, fmt: str) -> bytes:
    data = bytearray(draw(catalogs(fmt)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        kind = draw(st.sampled_from(["token", "bytes", "truncate", "delete", "bom"]))
        if kind == "token":
            data[at:at] = draw(TOKENS)
        elif kind == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "truncate":
            del data[at:]
        elif kind == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=20))]
        else:
            data[0:0] = b"\xef\xbb\xbf"
    return bytes(data)


class Trickle(io.RawIOBase):
    """``data`` in reads of at most ``step`` bytes: items and lines straddle reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self._at : self._at + min(len(buffer), self._step)]
        buffer[: len(chunk)] = chunk
        self._at += len(chunk)
        return len(chunk)


def stream(data: bytes, step: int) -> IO[bytes]:
    return io.BufferedReader(Trickle(data, step), buffer_size=max(step, 8))


def read(fmt: str, data: bytes, cap: int, step: int) -> list[Record] | None:
    """The records, or None when the catalog as a whole is refused (CatalogError)."""
    source: IO[bytes] = Trickle(data, step) if fmt == "json" else stream(data, step)  # type: ignore[assignment]
    try:
        return list(READERS[fmt](source, cap))
    except CatalogError as exc:
        assert str(exc)  # a reason, always
        return None


def check_records(records: list[Record]) -> None:
    positions = [r.position for r in records]
    assert positions == sorted(set(positions)) and all(p >= 1 for p in positions)
    for r in records:
        if r.error is not None:
            assert isinstance(r.error, str) and r.error
            assert r.data is None or (isinstance(r.data, dict) and set(r.data) == {"id"})
        verdict = prepare(r, MAPPER, {})  # never raises for bad data
        assert verdict is not None


CAPS = st.sampled_from([64, 300, 1 << 20])
STEPS = st.sampled_from([1, 7, 64, 1 << 16])


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(sorted(READERS)), cap=CAPS, step=STEPS)
def test_a_broken_catalog_yields_records_or_a_catalog_error_and_nothing_else(
    data: st.DataObject, fmt: str, cap: int, step: int
) -> None:
    raw = data.draw(broken(fmt))
    records = read(fmt, raw, cap, step)
    if records is not None:
        check_records(records)


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(sorted(READERS)), step=STEPS)
def test_an_unbroken_catalog_reads_back_what_was_written(data: st.DataObject, fmt: str, step: int) -> None:
    raw = data.draw(catalogs(fmt))
    records = read(fmt, raw, 1 << 20, step)
    if fmt != "csv":
        if fmt == "jsonl":  # orjson 3.13 reads an integer beyond 64 bits as a float (left as is)
            written = [json.loads(line, parse_int=_as_orjson_does) for line in raw.split(b"\n") if line]
        else:
            written = json.loads(raw)
        assert records is not None and [r.data for r in records] == written
        return
    assert records is not None
    check_records(records)
    assert all(r.error is None or r.error.endswith("not valid UTF-8") for r in records)


def _as_orjson_does(literal: str) -> int | float:
    value = int(literal)
    return value if -(2**63) <= value < 2**64 else float(value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(
    value=JSON_VALUES, indent=st.sampled_from([None, 0, 2]), cuts=st.lists(st.integers(0, 400), max_size=5)
)
def test_the_json_skipper_ends_a_value_exactly_where_the_parser_does(
    value: Any, indent: int | None, cuts: list[int]
) -> None:
    text = json.dumps(value, indent=indent) + " , 1]"
    _, expected = json.JSONDecoder().raw_decode(text)
    # fed in pieces, as reads come
    skipper, offset = JsonSkipper(text[0]), 0
    bounds = [*sorted({c for c in cuts if 0 < c < len(text)}), len(text)]
    end = None
    for bound in bounds:
        end = skipper.feed(text[offset:bound])
        if end is not None:
            end += offset
            break
        offset = bound
    assert end == expected


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(sorted(READERS)))
def test_a_damaged_gzip_catalog_fails_only_with_a_catalog_error(data: st.DataObject, fmt: str) -> None:
    packed = bytearray(gzip.compress(data.draw(catalogs(fmt)) * 20))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(packed) - 1))
        if data.draw(st.booleans()):
            packed[at] = data.draw(st.integers(0, 255))
        else:
            del packed[at:]
            break
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"c.{fmt}.gz"
        path.write_bytes(packed)
        try:
            with open_source(str(path)) as source:
                check_records(list(read_records(source, fmt)))
        except CatalogError:
            pass
