"""Streaming catalog readers for JSON Lines, JSON arrays and CSV.

Each reader yields ``Record``s one at a time from a binary stream, so memory does not grow with
the catalog. A record that cannot be parsed is yielded with ``error`` set (the item is invalid,
the others go on); only a problem with the file as a whole (an unknown CSV column, a JSON array
that breaks off) raises ``CatalogError``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from workers.errors import CatalogError

__all__ = ["FORMATS", "Record", "read_csv", "read_json_array", "read_jsonl"]

FORMATS = ("jsonl", "json", "csv")

_BOM = b"\xef\xbb\xbf"
_CHUNK_BYTES = 1 << 16
_LIST_FIELDS = ("languages", "tags", "skills", "categories")
_JSON_FIELDS = ("translations", "extra")
_KNOWN_COLUMNS = frozenset(
    (
        "id", "title", "url", "description", "short_description", "mobile_url", "thumbnail_url",
        "duration_minutes", "languages", "content_type", "difficulty", "tags", "skills",
        "categories", "translations", "source", "active", "updated_at", "extra",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Record:
    """One raw catalog entry. ``position`` is the line (JSONL, CSV) or array index + 1 (JSON)."""

    position: int
    data: Any = None
    error: str | None = None


def _describe_unicode(exc: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1})"


def read_jsonl(stream: IO[bytes]) -> Iterator[Record]:
    """One JSON object per line; blank lines are skipped."""
    for lineno, raw in enumerate(stream, start=1):
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Record(lineno, error=_describe_unicode(exc))
            continue
        if not text.strip():
            continue
        try:
            yield Record(lineno, json.loads(text))
        except json.JSONDecodeError as exc:
            yield Record(lineno, error=f"malformed JSON: {exc.msg} (column {exc.colno})")


def read_json_array(stream: IO[bytes]) -> Iterator[Record]:
    """A top-level JSON array, decoded element by element without holding the whole file."""
    decoder = json.JSONDecoder()
    buf, offset, index, eof = "", 0, 0, False
    pending = b""

    def fill() -> bool:
        nonlocal buf, offset, eof, pending
        chunk = stream.read(_CHUNK_BYTES)
        if not chunk:
            eof = True
            return False
        data = pending + chunk
        try:
            text = data.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as exc:
            if exc.start < len(data) - 3:
                raise CatalogError(f"the JSON catalog is not valid UTF-8 near item {index + 1}") from None
            text, pending = data[: exc.start].decode("utf-8"), data[exc.start :]
        buf = buf[offset:] + text
        offset = 0
        return True

    def skip_ws() -> None:
        nonlocal offset
        while True:
            while offset < len(buf) and buf[offset] in " \t\r\n":
                offset += 1
            if offset < len(buf) or not fill():
                return

    fill()
    if buf.startswith("\ufeff"):
        offset = 1
    skip_ws()
    if offset >= len(buf):
        return
    if buf[offset] != "[":
        raise CatalogError("a .json catalog must be a JSON array of course objects ([{...}, ...])")
    offset += 1
    while True:
        skip_ws()
        if offset >= len(buf):
            raise CatalogError(f"the JSON array ends early after item {index}: missing ']'")
        if buf[offset] == "]":
            return
        if index > 0:
            if buf[offset] != ",":
                raise CatalogError(f"malformed JSON after item {index}: expected ',' or ']'")
            offset += 1
            skip_ws()
        while True:
            try:
                value, end = decoder.raw_decode(buf, offset)
                break
            except json.JSONDecodeError as exc:
                if eof or not fill():
                    raise CatalogError(f"malformed JSON in item {index + 1}: {exc.msg}") from None
        index += 1
        offset = end
        yield Record(index, value)


def read_csv(stream: IO[bytes]) -> Iterator[Record]:
    """A header row of canonical field names; list fields ``;``-separated, JSON in translations/extra."""
    lines = (line.decode("utf-8", "surrogateescape") for line in stream)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in _KNOWN_COLUMNS]
    if unknown:
        raise CatalogError(f"CSV header has unknown column(s) {unknown}; known columns: {sorted(_KNOWN_COLUMNS)}")
    missing = [h for h in ("id", "title", "url") if h not in header]
    if missing:
        raise CatalogError(f"CSV header lacks required column(s) {missing}; the first row must name the fields")
    if len(set(header)) != len(header):
        raise CatalogError("CSV header names a column twice")
    for row in reader:
        lineno = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Record(lineno, error=f"has {len(row)} cells but the header has {len(header)} columns")
            continue
        if any(_has_bad_bytes(cell) for cell in row):
            yield Record(lineno, error="not valid UTF-8")
            continue
        yield _csv_record(lineno, dict(zip(header, row, strict=True)))


def _has_bad_bytes(cell: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in cell)


def _csv_record(lineno: int, row: dict[str, str]) -> Record:
    item: dict[str, Any] = {}
    for key, cell in row.items():
        if cell == "":
            continue  # an empty cell means "not given"
        if key in _LIST_FIELDS:
            item[key] = [part.strip() for part in cell.split(";") if part.strip()]
        elif key in _JSON_FIELDS:
            try:
                item[key] = json.loads(cell)
            except json.JSONDecodeError as exc:
                return Record(lineno, {"id": row.get("id")}, error=f"{key}: malformed JSON ({exc.msg})")
        elif key == "duration_minutes":
            item[key] = int(cell) if cell.strip().lstrip("-").isdigit() else cell
        elif key == "active":
            lowered = cell.strip().lower()
            item[key] = {"true": True, "false": False, "1": True, "0": False}.get(lowered, cell)
        else:
            item[key] = cell
    return Record(lineno, item)
