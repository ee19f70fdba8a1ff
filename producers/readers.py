"""Streaming catalog readers for JSON Lines, JSON arrays and CSV.

Each reader yields ``Record``s one at a time from a binary stream, so memory does not grow with
the catalog. A record that cannot be parsed is yielded with ``error`` set (the item is invalid,
the others go on); only a problem with the file as a whole (an unknown CSV column, a JSON array
that breaks off) raises ``CatalogError``. A line, CSV record or array item longer than
``catalog_max_line_bytes`` is one invalid record, read past without being held
(``producers.capped``); the caps on a catalog as a whole wrap the stream (``producers.sources``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from producers.capped import HEAD_BYTES, Oversized, bounded_lines, line_cap, sniff_id, too_long
from producers.csv_reader import read_csv
from producers.json_skip import JsonSkipper
from producers.records import TOO_DEEP, Record, describe_json_error, oversized_record
from workers.errors import CatalogError

__all__ = ["FORMATS", "Record", "read_csv", "read_json_array", "read_jsonl"]

FORMATS = ("jsonl", "json", "csv")

_BOM = b"\xef\xbb\xbf"
_CHUNK_BYTES = 1 << 16
#: A parse error this close to the end of the text read so far may only mean the text goes on
#: (a cut ``tru``, ``-Infinity``, ``\u12``); one further back is in the text itself.
_LOOKAHEAD_CHARS = 16


def read_jsonl(stream: IO[bytes], max_line_bytes: int | None = None) -> Iterator[Record]:
    """One JSON object per line; blank lines are skipped. ``max_line_bytes``: the line cap
    (default: the setting)."""
    cap = line_cap(max_line_bytes)
    for lineno, line in enumerate(bounded_lines(stream, cap), start=1):
        if isinstance(line, Oversized):
            yield oversized_record(lineno, line, "the line", cap)
            continue
        raw = line[len(_BOM) :] if lineno == 1 and line.startswith(_BOM) else line
        if raw and not raw.isspace():  # bytes.isspace: the ASCII whitespace bytes.strip() removes
            yield Record(lineno, line=raw)  # parsed when asked (Record.data), or decoded straight


class _JsonArrayStream:
    """Decodes a top-level JSON array element by element from a stream of UTF-8 bytes."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        self._stream = stream
        self._cap = cap
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._pending = b""  # bytes of a UTF-8 sequence split across reads
        self._offset = 0  # bytes read from the stream so far
        self.index = 0

    def _fill(self, size: int = 0) -> int:
        """Reads at least ``size`` bytes (one chunk at least); returns how many, 0 at the end."""
        chunk = self._stream.read(max(size, _CHUNK_BYTES))
        if not chunk:
            return 0
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
        return len(chunk)

    def _peek(self) -> str:
        """The next non-whitespace character, or '' at the end of the stream."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n\ufeff":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _item(self) -> Record:
        """The next item. Reads grow with the item (so parsing it again after each read costs
        no more than twice in all) until it is parsed, or longer than the cap and skipped."""
        n = self.index + 1
        held: int | None = None  # bytes of this item read so far, once it needs another read
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                goes_on = exc.msg.startswith("Unterminated") or exc.pos >= len(self._buf) - _LOOKAHEAD_CHARS
                if not goes_on:  # more text cannot mend it: say so now, not after reading it all
                    raise CatalogError(f"malformed JSON in item {n}: {exc.msg}") from None
                if held is None:
                    held = len(self._buf[self._pos :].encode()) + len(self._pending)
                if held > self._cap:
                    return self._skip(n)
                got = self._fill(held)
                if not got:
                    ended = exc.pos >= len(self._buf.rstrip()) or exc.msg.startswith("Unterminated")
                    why = "the file ends inside it (truncated?)" if ended else exc.msg
                    raise CatalogError(f"malformed JSON in item {n}: {why}") from None
                held += got
                continue
            except (ValueError, RecursionError) as exc:
                reason = TOO_DEEP if isinstance(exc, RecursionError) else describe_json_error(exc)
                raise CatalogError(f"item {n}: {reason}") from None
            if end == len(self._buf) and _is_number(value) and self._fill():
                continue  # a number cut by the read may go on in the next one
            if self._over_cap(end):  # parsed already, but read whole: the same item must not
                return self._skip(n)  # pass or fail with where the reads happened to fall
            self._pos = end
            return Record(n, value)

    def _over_cap(self, end: int) -> bool:
        chars = end - self._pos  # a character is 1 to 4 bytes: measure only when in doubt
        return chars > self._cap or (
            chars * 4 > self._cap and len(self._buf[self._pos : end].encode()) > self._cap
        )

    def _skip(self, n: int) -> Record:
        head = self._buf[self._pos : self._pos + HEAD_BYTES].encode()
        skipper = JsonSkipper(self._buf[self._pos])
        while (end := skipper.feed(self._buf, self._pos)) is None:
            self._buf, self._pos = "", 0
            if not self._fill():
                raise CatalogError(f"malformed JSON in item {n}: the file ends inside it (truncated?)")
        self._pos = end
        item_id = sniff_id(head)
        return Record(n, None if item_id is None else {"id": item_id}, error=too_long("the item", self._cap))

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
            record = self._item()
            self.index += 1
            yield record


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_json_array(stream: IO[bytes], max_line_bytes: int | None = None) -> Iterator[Record]:
    """A top-level JSON array, decoded element by element without holding the whole file.
    ``max_line_bytes``: the cap on one element (default: the setting)."""
    return iter(_JsonArrayStream(stream, line_cap(max_line_bytes)))
