"""Finding where a JSON value ends without parsing it: for ``.json`` items over the line cap.

Parsing such an item would hold all of it; this lexer only follows strings (with their
escapes) and bracket depth, in constant memory, chunk after chunk. It does not check the item
is valid JSON: it is invalid anyway, and the array's reader parses what follows it for real, so
a skip that ended in the wrong place would fail the catalog, never make up an item.
"""

from __future__ import annotations

import re

__all__ = ["JsonSkipper"]

_OUTSIDE = re.compile(r'[][{}"]')
_INSIDE = re.compile(r'["\\]')
#: Where a bare scalar (a number, true, garbage) ends: the array's next comma or bracket.
_SCALAR_END = re.compile(r"[\s,\]}]")


class JsonSkipper:
    """Feed it the text of one value, in as many pieces as it comes; it says where it ends."""

    def __init__(self, first: str) -> None:
        """``first``: the value's first character (a scalar is skipped differently)."""
        self._scalar = first not in '[{"'
        self._depth = 0
        self._in_string = False
        self._escaped = False  # a backslash ended the previous piece

    def feed(self, text: str, start: int = 0) -> int | None:
        """The index in ``text`` just past the value's end, or None if it goes on after ``text``."""
        if self._scalar:
            m = _SCALAR_END.search(text, start)
            return None if m is None else m.start()
        i = start
        while True:
            if self._in_string:
                past = self._past_string(text, i)
                if past is None:
                    return None
                if self._depth == 0:
                    return past  # the value was a string
                i = past
            m = _OUTSIDE.search(text, i)
            if m is None:
                return None
            i, char = m.end(), m.group()
            if char == '"':
                self._in_string = True
            elif char in "[{":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth <= 0:
                    return i

    def _past_string(self, text: str, i: int) -> int | None:
        """Past the closing quote of the string being read, or None if it goes on after ``text``."""
        while True:
            if self._escaped:
                if i >= len(text):
                    return None
                i += 1
                self._escaped = False
            m = _INSIDE.search(text, i)
            if m is None:
                return None
            i = m.end()
            if m.group() == '"':
                self._in_string = False
                return i
            self._escaped = True
