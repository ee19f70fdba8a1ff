"""Cutting CSV records out of a stream: one at a time, each at most ``catalog_max_line_bytes``.

The csv module is fed one decoded line at a time by ``_Lines``, which holds a record to the
cap and keeps the lines of the record being read. A record csv cannot read (over the cap, a
quote that never closes, a stray quote that swallows the rows after it) comes out as one invalid
``Record`` named by its first line, and the lines it swallowed are read again as records of their
own. Each line is read again at most once, so reading stays linear however many quotes are
broken. A carriage return inside a row is cell text, as Python's own csv.writer means it.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from typing import IO

from producers.capped import LINE_SETTING, Oversized, bounded_lines, too_long
from producers.records import Record
from workers.errors import CatalogError

__all__ = ["CsvRows", "has_bad_bytes"]

#: Fed to csv after the last line. Decoding (surrogateescape) yields no lone U+D800, so a cell
#: ending in it is a quoted cell still open when the file ended.
_EOF = "\ud800"
#: Stands in for a carriage return inside an unquoted cell while csv reads it (``_decoded``).
_CR = "\ud801"
_UNCLOSED = "a quoted cell opened on this line never closes: the file ends inside it"

Line = bytes | Oversized


class CsvRows:
    """The header, then the rows of a CSV stream: ``(line, cells)``, or an invalid ``Record``."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        # csv's own cap (131,072 characters a cell by default) would fail a record ours allows.
        # It is process-wide: only ever raised here.
        if csv.field_size_limit() <= cap:
            csv.field_size_limit(cap + 1)
        self._lines = _Lines(stream, cap)
        self._cap = cap

    def header(self) -> list[str] | None:
        """The first row, stripped; None for an empty file. Raises CatalogError if unreadable."""
        return _header(self._lines, self._cap)

    def rows(self, columns: int, id_at: int) -> Iterator[tuple[int, list[str]] | Record]:
        """Each row after the header with its first line; ``columns`` and ``id_at`` (where the id
        is) let a broken record be told and named."""
        return _records(self._lines, columns, id_at, self._cap)


class _TooLong(Exception):
    """Raised through csv when the record being read passes the cap."""


class _Lines:
    """csv's input: decoded lines, the current record capped and kept to be read again."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        self._source = bounded_lines(stream, cap)
        self._cap = cap
        self._read = 0  # lines taken from the stream
        self._again: deque[tuple[int, Line]] = deque()  # lines to be read a second time
        self._again_to = 0  # lines up to this one were put to be read again already
        self._eof_given = False
        self.record: list[tuple[int, Line]] = []  # the lines of the record being read
        self._record_bytes = 0
        #: Past the header: a carriage return inside a line is cell text (``_decoded``).
        self.in_rows = False
        self.record_has_cr = False

    def start_record(self) -> None:
        self.record, self._record_bytes, self.record_has_cr = [], 0, False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            taken = next(self._source, None)
            if taken is None:
                if self._eof_given:
                    raise StopIteration
                self._eof_given = True
                return _EOF
            self._read += 1
            number, line = self._read, taken
        self.record.append((number, line))
        if isinstance(line, Oversized):
            raise _TooLong
        self._record_bytes += len(line)
        if self._record_bytes > self._cap:
            raise _TooLong
        text = line.decode("utf-8", "surrogateescape")
        if self.in_rows and "\r" in text:
            decoded = _decoded(text)
            self.record_has_cr |= decoded is not text
            return decoded
        return text

    def broken(self, reason: str, id_at: int) -> Record:
        """The record being read as one invalid record at its first line; the lines after that
        one are put to be read again, except those read twice already (they are lost with it,
        and the record names no item, so that pruning refuses rather than trust this catalog)."""
        if not self.record:  # csv choked on the end-of-file mark itself: nothing to name
            return Record(self._read, error=reason)
        (first, line), *swallowed = self.record
        lost = [n for n, _ in swallowed if n <= self._again_to]
        again = [(n, text) for n, text in swallowed if n > self._again_to]
        if again:
            self._again.extendleft(reversed(again))
            self._again_to = again[-1][0]
            self._eof_given = False
        if lost:
            reason += f"; lines {lost[0]}-{lost[-1]} were read into it and are skipped with it"
            return Record(first, error=reason)
        item_id = _id_of(line.head if isinstance(line, Oversized) else line, id_at)
        return Record(first, None if item_id is None else {"id": item_id}, error=reason)


def _id_of(line: bytes, id_at: int) -> str | None:
    """The id cell of a broken record's first line, if that line holds it whole (a later cell
    follows it there)."""
    try:
        cells = next(csv.reader([_decoded(line.decode("utf-8", "surrogateescape"))]), [])
    except csv.Error:
        return None
    if id_at + 1 >= len(cells) or has_bad_bytes(cells[id_at]) or not cells[id_at].strip():
        return None
    return cells[id_at].replace(_CR, "\r")


def _decoded(text: str) -> str:
    """The line with each carriage return before its end made ``_CR`` (given back as ``\\r`` in
    the cells): csv refuses one inside an unquoted cell, yet Python's own csv.writer writes one
    there when its lines end in ``\\n``. The line itself when it has none."""
    body = text.rstrip("\r\n")
    return body.replace("\r", _CR) + text[len(body) :] if "\r" in body else text


def _parse(record: list[tuple[int, Line]], *, strict: bool = False) -> list[str] | None:
    """The one whole row the record's lines hold, read with carriage returns as cell text; None
    if they hold anything else."""
    texts = [
        _decoded(line.decode("utf-8", "surrogateescape")) for _, line in record if isinstance(line, bytes)
    ]
    try:
        rows = list(csv.reader([*texts, _EOF], strict=strict))
    except csv.Error:
        return None
    if len(rows) != 2 or rows[1] != [_EOF] or len(texts) != len(record):
        return None
    return [cell.replace(_CR, "\r") for cell in rows[0]]


def _describe(exc: csv.Error) -> str:
    message = str(exc).split(" - ")[0]  # "... - do you need to open the file in universal-newline mode?"
    if message.startswith("new-line character seen in unquoted field"):
        return "malformed CSV: a carriage return inside an unquoted cell (quote the cell)"
    return f"malformed CSV: {message}"


def _header(lines: _Lines, cap: int) -> list[str] | None:
    lines.start_record()
    try:
        header = next(csv.reader(lines))
    except _TooLong:
        raise CatalogError(f"the CSV header row is longer than {cap:,} bytes ({LINE_SETTING})") from None
    except csv.Error as exc:
        raise CatalogError(f"the CSV header row cannot be read: {_describe(exc)}") from None
    if header == [_EOF]:
        return None
    if header and header[-1].endswith(_EOF):
        raise CatalogError("the CSV header row opens a quoted cell that never closes")
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    return [h.strip() for h in header]


def _records(lines: _Lines, columns: int, id_at: int, cap: int) -> Iterator[tuple[int, list[str]] | Record]:
    lines.in_rows = True
    reader = csv.reader(lines)
    while True:
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, _TooLong) as exc:  # csv.Error: a field_size_limit lowered since
            why = too_long("the CSV record", cap) if isinstance(exc, _TooLong) else _describe(exc)
            yield lines.broken(why, id_at)
            reader = csv.reader(lines)  # a fresh start at the next line
            continue
        if row == [_EOF]:
            continue
        stray = _UNCLOSED if row and row[-1].endswith(_EOF) else _stray_quote(lines.record, row, columns)
        if stray is not None:
            yield lines.broken(stray, id_at)
            reader = csv.reader(lines)
            continue
        yield lines.record[0][0], [c.replace(_CR, "\r") for c in row] if lines.record_has_cr else row


def _stray_quote(record: list[tuple[int, Line]], row: list[str], columns: int) -> str | None:
    """Why a record read over several lines looks like a stray quote that swallowed the rows
    after it (they are then read again on their own), or None.

    csv is lenient: a quote followed by other text just closes the cell (``5" screen`` and
    ``"Intro" to X`` stay readable on one line). Over several lines that leniency is how one
    stray quote eats rows, so there a record must also read strictly, into the header's cells.
    """
    if len(record) == 1:
        return None
    where = f"a quoted cell opened on this line runs on to line {record[-1][0]}"
    if len(row) != columns:
        return f"{where}, and its {len(row)} cells do not match the header's {columns} (a stray quote?)"
    if _parse(record, strict=True) is None:
        return f"{where}, where a closing quote is followed by other text (a stray quote?)"
    return None


def has_bad_bytes(cell: str) -> bool:
    """Whether the cell held bytes that are not UTF-8 (decoded as U+DC80..U+DCFF)."""
    return any("\udc80" <= ch <= "\udcff" for ch in cell)
