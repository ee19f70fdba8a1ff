"""What every reader yields, and the reasons they give in common."""

from __future__ import annotations

import json
import sys
from typing import Any

import orjson

from producers.capped import Oversized, sniff_id, too_long

__all__ = [
    "TOO_DEEP",
    "Record",
    "describe_json_error",
    "describe_unicode",
    "oversized_record",
    "parse_json_line",
]


class Record:
    """One raw catalog entry. ``position`` is the line (JSONL; CSV: the record's first line) or
    array index + 1 (JSON).

    A JSON Lines record keeps its ``line`` (bytes) and is parsed only when ``data`` or ``error``
    is asked for: a plainly valid line is decoded and validated straight from its bytes
    (``schemas.course_fast.decode_course``), and parsing it into a dict too would cost more
    than the rest of its validation.
    """

    # A plain class with slots, not a dataclass: one is made per catalog item.
    __slots__ = ("_data", "_error", "line", "position")

    def __init__(
        self, position: int, data: Any = None, error: str | None = None, *, line: bytes | None = None
    ):
        self.position = position
        self.line = line
        self._data = data
        self._error = error

    @property
    def data(self) -> Any:
        if self.line is not None:
            self._parse()
        return self._data

    @property
    def error(self) -> str | None:
        if self.line is not None:
            self._parse()
        return self._error

    def _parse(self) -> None:
        self._data, self._error = parse_json_line(self.line or b"")
        self.line = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.position, self.data, self.error) == (other.position, other.data, other.error)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def __repr__(self) -> str:
        return f"Record(position={self.position!r}, data={self.data!r}, error={self.error!r})"


def parse_json_line(raw: bytes) -> tuple[Any, str | None]:
    """(value, None) for one JSON text, or (None, why it cannot be parsed).

    orjson parses bytes directly and checks UTF-8 itself: the fast path. A text orjson refuses
    goes to the stdlib parser, which decides (it also takes integers beyond 64 bits) and
    explains what is wrong in its own words.
    """
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError:
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, describe_unicode(exc)
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, describe_json_error(exc)
    except RecursionError:
        return None, TOO_DEEP


#: Python's parser recurses per nesting level; nothing in a course is nested this deep.
TOO_DEEP = "malformed JSON: nested too deeply"


def describe_unicode(exc: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1})"


def describe_json_error(exc: ValueError) -> str:
    """The stdlib parser's reason: a syntax error, or an integer too long to convert."""
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc.msg} (column {exc.colno})"
    # int() refuses literals of more than sys.get_int_max_str_digits() digits (CVE-2020-10735).
    return f"malformed JSON: a number has more than {sys.get_int_max_str_digits()} digits"


def oversized_record(position: int, line: Oversized, what: str, cap: int) -> Record:
    """A JSON line or item over the cap: invalid, named by its id when its first key gives it."""
    item_id = sniff_id(line.head)
    return Record(position, None if item_id is None else {"id": item_id}, error=too_long(what, cap))
