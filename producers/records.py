"""What every reader yields, and the reasons they give in common."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from producers.capped import Oversized, sniff_id, too_long

__all__ = ["TOO_DEEP", "Record", "describe_json_error", "describe_unicode", "oversized_record"]


# Not frozen: one is made per catalog item, and frozen dataclasses are several times slower
# to build (object.__setattr__ per field). Treat it as a value all the same.
@dataclass(slots=True)
class Record:
    """One raw catalog entry. ``position`` is the line (JSONL; CSV: the record's first line) or
    array index + 1 (JSON)."""

    position: int
    data: Any = None
    error: str | None = None


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
