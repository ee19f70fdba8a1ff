"""Streaming catalog readers for JSON Lines, JSON arrays and CSV.

Each reader yields ``Record``s one at a time from a binary stream, so memory does not grow with
the catalog. A record that cannot be parsed is yielded with ``error`` set (the item is invalid,
the others go on); only a problem with the file as a whole (an unknown CSV column, a JSON array
that breaks off) raises ``CatalogError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import orjson

from producers.csv_reader import read_csv
from producers.records import TOO_DEEP, Record, describe_json_error, describe_unicode
from workers.errors import CatalogError

__all__ = ["FORMATS", "Record", "read_csv", "read_json_array", "read_jsonl"]

FORMATS = ("jsonl", "json", "csv")

_BOM = b"\xef\xbb\xbf"
_CHUNK_BYTES = 1 << 16


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
        return Record(lineno, error=describe_unicode(exc))
    try:
        return Record(lineno, json.loads(text))
    except ValueError as exc:
        return Record(lineno, error=describe_json_error(exc))
    except RecursionError:
        return Record(lineno, error=TOO_DEEP)


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
                reason = TOO_DEEP if isinstance(exc, RecursionError) else describe_json_error(exc)
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
