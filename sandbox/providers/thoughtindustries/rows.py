"""How the sandbox's Thought Industries reads an import asset (the choices of ``ti_contract``).

The whole asset is refused (:class:`AssetProblem`, HTTP 422) when it is not UTF-8 or its
header is not exactly ``COLUMNS``; otherwise each row is judged on its own, and an invalid row
is reported in the shape the ``ti_invalid_rows_shape`` setting names (:func:`invalid_entry`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from sandbox.http import unresolvable_host
from sandbox.providers.thoughtindustries.contract import (
    COLUMNS,
    CSV_DELIMITER,
    GROUP_COLUMN,
    KEY_COLUMN,
    REASON_FIELD,
    REQUIRED_COLUMNS,
)

__all__ = ["AssetProblem", "Row", "invalid_entry", "judge_rows", "parse_asset"]

Row = dict[str, str]


class AssetProblem(ValueError):
    """The asset as a whole cannot be imported (the message says why)."""


def parse_asset(data: bytes) -> list[Row]:
    """The asset's rows as column -> text; a row with the wrong cell count keeps what it has."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AssetProblem(f"The asset is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=CSV_DELIMITER)
    try:
        header = next(reader, None)
        if header is None:
            raise AssetProblem("The asset is empty; it needs a header row.")
        if tuple(header) != COLUMNS:
            raise AssetProblem(f"The asset's header must be exactly: {CSV_DELIMITER.join(COLUMNS)}.")
        rows: list[Row] = []
        for cells in reader:
            if not cells:
                continue  # a blank line
            row = dict(zip(COLUMNS, cells, strict=False))
            if len(cells) != len(COLUMNS):
                row[REASON_FIELD] = f"The row has {len(cells)} cells; the header has {len(COLUMNS)}."
            rows.append(row)
    except csv.Error as exc:
        raise AssetProblem(f"The asset is not valid CSV: {exc}.") from None
    if not rows:
        raise AssetProblem("The asset has a header but no rows.")
    return rows


GroupExists = Callable[[str], bool]


def judge_rows(
    rows: list[Row], content: str, group_exists: GroupExists
) -> tuple[list[Row], list[tuple[int, Row]]]:
    """(valid rows, (1-based position, invalid row with its reason)) in asset order.

    ``group_exists(key)`` says whether a course group with that key was imported (sessions
    need theirs first).
    """
    valid: list[Row] = []
    invalid: list[tuple[int, Row]] = []
    seen: set[str] = set()
    for position, row in enumerate(rows, start=1):
        problem = row.get(REASON_FIELD) or next(_problems(row, content, group_exists, seen), None)
        seen.add(row.get(KEY_COLUMN, ""))
        if problem:
            invalid.append((position, {**row, REASON_FIELD: problem}))
        else:
            valid.append(row)
    return valid, invalid


def _problems(row: Row, content: str, group_exists: GroupExists, seen: set[str]) -> Iterator[str]:
    """Why the row cannot be imported, most basic reason first."""
    missing = [c for c in REQUIRED_COLUMNS if not row.get(c, "").strip()]
    if missing:
        yield f"{', '.join(missing)} is required."
    if row.get(KEY_COLUMN) in seen:
        yield f"{KEY_COLUMN} {row[KEY_COLUMN]!r} appears more than once in the asset."
    for column in ("url", "thumbnailUrl"):
        value = row.get(column, "")
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            yield f"{column} must be an absolute http(s) URL."
    host = unresolvable_host(row.get("url", ""))
    if host:
        yield f"url host {host!r} does not resolve."
    duration = row.get("durationMinutes", "")
    if duration and not (duration.isdigit() and int(duration) > 0):
        yield "durationMinutes must be a whole number of minutes above 0."
    group = row.get(GROUP_COLUMN, "")
    if content.startswith("session/") and not group:
        yield f"{GROUP_COLUMN} is required for a session."
    elif content.startswith("session/") and not group_exists(group):
        yield f"Course group {group!r} does not exist; import it first."


def invalid_entry(position: int, row: Row, shape: str) -> dict[str, object]:
    """The ``invalidRows`` entry of ``row`` (data row ``position``, from 1) in ``shape``."""
    reason = row[REASON_FIELD]
    cells = {k: v for k, v in row.items() if k != REASON_FIELD}
    entries: dict[str, dict[str, object]] = {
        "flat": {**cells, REASON_FIELD: reason},
        "nested": {"row": cells, REASON_FIELD: reason},
        "row_number": {"rowNumber": position, REASON_FIELD: reason},
        "line": {"line": position + 1, REASON_FIELD: reason},
        "id_field": {"id": row.get(KEY_COLUMN, ""), REASON_FIELD: reason},
        "unattributable": {REASON_FIELD: reason},
    }
    return entries[shape]
