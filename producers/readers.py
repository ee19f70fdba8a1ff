"""Streaming catalog readers for JSON Lines, JSON arrays and CSV.

Each reader yields ``Record``s one at a time from a binary stream, so memory does not grow with
the catalog. A record that cannot be parsed is yielded with ``error`` set (the item is invalid,
the others go on); only a problem with the file as a whole (an unknown CSV column, a JSON array
that breaks off) raises ``CatalogError``.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

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


# Not frozen: one is made per catalog item, and frozen dataclasses are several times slower
# to build (object.__setattr__ per field). Treat it as a value all the same.
@dataclass(slots=True)
class Record:
    """One raw catalog entry. ``position`` is the line (JSONL, CSV) or array index + 1 (JSON)."""

    position: int
    data: Any = None
    error: str | None = None


def _describe_unicode(exc: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1})"


def read_jsonl(stream: IO[bytes]) -> Iterator[Record]:
    """One JSON object per line; blank lines are skipped."""
    for lineno, line in enumerate(stream, start=1):
        raw = line[len(_BOM) :] if lineno == 1 and line.startswith(_BOM) else line
        try:
            # orjson parses bytes directly and checks UTF-8 itself: the fast path.
            yield Record(lineno, orjson.loads(raw))
        except orjson.JSONDecodeError:
            if raw.strip():
                yield _slow_line(lineno, raw)


def _slow_line(lineno: int, raw: bytes) -> Record:
    """A line orjson refused: the stdlib parser decides (it also takes integers beyond 64 bits)
    and explains what is wrong in its own words."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(lineno, error=_describe_unicode(exc))
    try:
        return Record(lineno, json.loads(text))
    except ValueError as exc:
        return Record(lineno, error=_describe_json_error(exc))
    except RecursionError:
        return Record(lineno, error=_TOO_DEEP)


#: Python's parser recurses per nesting level; nothing in a course is nested this deep.
_TOO_DEEP = "malformed JSON: nested too deeply"


def _describe_json_error(exc: ValueError) -> str:
    """The stdlib parser's reason: a syntax error, or an integer too long to convert."""
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc.msg} (column {exc.colno})"
    # int() refuses literals of more than sys.get_int_max_str_digits() digits (CVE-2020-10735).
    return f"malformed JSON: a number has more than {sys.get_int_max_str_digits()} digits"


class _JsonArrayStream:
    """Decodes a top-level JSON array element by element from a stream of UTF-8 bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._pending = b""  # bytes of a UTF-8 sequence split across reads
        self._offset = 0  # bytes read from the stream so far
        self.index = 0

    def _fill(self) -> bool:
        chunk = self._stream.read(_CHUNK_BYTES)
        if not chunk:
            return False
        data = self._pending + chunk
        start = self._offset - len(self._pending)  # where data[0] is in the file
        self._offset += len(chunk)
        try:
            text, self._pending = data.decode("utf-8"), b""
        except UnicodeDecodeError as exc:
            if exc.start < len(data) - 3:
                where = f"byte 0x{data[exc.start]:02x} at offset {start + exc.start}"
                raise CatalogError(f"the JSON catalog is not valid UTF-8 ({where})") from None
            text, self._pending = data[: exc.start].decode("utf-8"), data[exc.start :]
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return True

    def _peek(self) -> str:
        """The next non-whitespace character, or '' at the end of the stream."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n\ufeff":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _value(self) -> Any:
        while True:
            try:
                value, self._pos = self._decoder.raw_decode(self._buf, self._pos)
                return value
            except json.JSONDecodeError as exc:
                if not self._fill():
                    ended = exc.pos >= len(self._buf.rstrip()) or exc.msg.startswith("Unterminated")
                    why = "the file ends inside it (truncated?)" if ended else exc.msg
                    raise CatalogError(f"malformed JSON in item {self.index + 1}: {why}") from None
            except (ValueError, RecursionError) as exc:
                reason = _TOO_DEEP if isinstance(exc, RecursionError) else _describe_json_error(exc)
                raise CatalogError(f"item {self.index + 1}: {reason}") from None

    def __iter__(self) -> Iterator[Record]:
        first = self._peek()
        if first == "":
            return
        if first != "[":
            raise CatalogError("a .json catalog must be a JSON array of course objects ([{...}, ...])")
        self._pos += 1
        while True:
            nxt = self._peek()
            if nxt == "]":
                return
            if nxt == "":
                raise CatalogError(f"the JSON array ends early after item {self.index}: missing ']'")
            if self.index > 0:
                if nxt != ",":
                    raise CatalogError(f"malformed JSON after item {self.index}: expected ',' or ']'")
                self._pos += 1
                self._peek()
            value = self._value()
            self.index += 1
            yield Record(self.index, value)


def read_json_array(stream: IO[bytes]) -> Iterator[Record]:
    """A top-level JSON array, decoded element by element without holding the whole file."""
    return iter(_JsonArrayStream(stream))


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
    if len(unknown) == len(header):
        raise CatalogError(
            f"the CSV file has no header row: its first row {header[:5]} names no known column; "
            "the first row must name the columns, e.g. id,title,url"
        )
    if unknown:
        raise CatalogError(
            f"CSV header has unknown column(s) {unknown}; known columns: {sorted(_KNOWN_COLUMNS)}"
        )
    missing = [h for h in ("id", "title", "url") if h not in header]
    if missing:
        raise CatalogError(
            f"CSV header lacks required column(s) {missing}; the first row must name the fields"
        )
    if len(set(header)) != len(header):
        raise CatalogError("CSV header names a column twice")
    for row in reader:
        lineno = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Record(lineno, error=f"has {len(row)} cells but the header has {len(header)} columns")
            continue
        cells = dict(zip(header, row, strict=True))
        bad = [name for name, cell in cells.items() if _has_bad_bytes(cell)]
        if bad:
            known = {"id": cells["id"]} if "id" not in bad else None  # names the item when it can
            yield Record(lineno, known, error=f"{bad[0]}: not valid UTF-8")
            continue
        yield _csv_record(lineno, cells)


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
            except (ValueError, RecursionError) as exc:
                why = _describe_json_error(exc) if isinstance(exc, ValueError) else _TOO_DEEP
                return Record(lineno, {"id": row.get("id")}, error=f"{key}: {why}")
        elif key == "duration_minutes":
            item[key] = _int_or_text(cell)
        elif key == "active":
            lowered = cell.strip().lower()
            item[key] = {"true": True, "false": False, "1": True, "0": False}.get(lowered, cell)
        else:
            item[key] = cell
    return Record(lineno, item)


def _int_or_text(cell: str) -> int | str:
    """``"90"`` -> 90; anything else stays text, for validation to refuse with its reason."""
    if not cell.strip().lstrip("-").isdigit():
        return cell
    try:
        return int(cell)
    except ValueError:  # "²", or more digits than int() converts
        return cell
