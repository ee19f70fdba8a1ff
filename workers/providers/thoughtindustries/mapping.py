"""Thought Industries: canonical course -> one row of the bulk import CSV asset.

The payload of an item is its CSV row as a dict (column -> text), so it can be fingerprinted,
chunked and stored like any other payload; ``to_csv`` writes a batch of rows as the asset.
Columns, key, list separator and the lack of deactivation are assumptions A2-A4 and A9 of
``assumptions`` (nothing of it is documented publicly).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.course import Course
from workers.providers.mapping import Mapper, MappingError, Options
from workers.providers.thoughtindustries.assumptions import (
    COLUMNS,
    CSV_DELIMITER,
    DEACTIVATION_UNSUPPORTED,
    GROUP_COLUMN,
    KEY_COLUMN,
    LIST_SEPARATOR,
)

__all__ = ["MAPPER", "to_csv", "to_deactivation", "to_payload"]

_EXTRA = "extra.thoughtindustries"


def to_payload(course: Course, options: Options) -> dict[str, str]:
    """The item's CSV row; ``extra.thoughtindustries`` sets or clears (null) other columns.

    Raises:
        MappingError: for an inactive course (A9), an unknown extra column, a list value that
            contains the list separator, or a session without its course group.
    """
    if not course.active:
        raise MappingError("active", DEACTIVATION_UNSUPPORTED)
    row: dict[str, str | None] = {
        KEY_COLUMN: course.id,
        "title": course.title,
        "url": course.url,
        "description": course.description,
        "shortDescription": course.short_description,
        "thumbnailUrl": course.thumbnail_url,
        # Minutes, like ours; a CSV cell is text.
        "durationMinutes": str(course.duration_minutes) if course.duration_minutes else None,
        # One language column: the first tag is the item's default language (product.md).
        "language": course.languages[0] if course.languages else None,
        "contentType": course.content_type,
        "difficulty": course.difficulty,
        "tags": _joined("tags", course.tags),
        "skills": _joined("skills", course.skills),
        "categories": _joined("categories", course.categories),
        "source": course.source,
    }
    for key, value in course.extra.get("thoughtindustries", {}).items():
        if key not in COLUMNS or key == KEY_COLUMN:
            settable = ", ".join(c for c in COLUMNS if c != KEY_COLUMN)
            raise MappingError(f"{_EXTRA}.{key}", f"is not a column of the asset; settable: {settable}")
        row[key] = _cell(f"{_EXTRA}.{key}", value)
    if str(options.get("content", "")).startswith("session/") and not row.get(GROUP_COLUMN):
        raise MappingError(
            f"{_EXTRA}.{GROUP_COLUMN}",
            "a session import needs the externalId of its course group (which must be imported first)",
        )
    return {k: _inert(k, v) for k, v in row.items() if v}


#: A cell starting with one of these is run as a formula by spreadsheet programs that open the
#: asset (CSV injection: ``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``); OWASP's advice is to
#: prefix it with a single quote, which shows the text as it was.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Keys are matched as they are written: a quote would change the item Thought Industries updates.
_KEYS = frozenset({KEY_COLUMN, GROUP_COLUMN})


def _inert(column: str, value: str) -> str:
    """``value`` as a cell no spreadsheet runs as a formula."""
    if not value.startswith(_FORMULA_STARTS):
        return value
    if column in _KEYS:
        where = "id" if column == KEY_COLUMN else f"{_EXTRA}.{column}"
        raise MappingError(
            where,
            f"starts with {value[0]!r}, which spreadsheet programs run as a formula; Thought "
            "Industries' CSV import cannot take it as a key",
        )
    return "'" + value


def to_deactivation(course: Course, options: Options) -> dict[str, Any]:
    """Always refuses: Thought Industries documents no deactivation (assumption A9)."""
    raise MappingError("active", DEACTIVATION_UNSUPPORTED)


def to_csv(rows: Iterable[Mapping[str, str]]) -> bytes:
    """The asset: a header of every column, then one line per row (absent cells empty), UTF-8."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(
        buffer, fieldnames=COLUMNS, delimiter=CSV_DELIMITER, lineterminator="\r\n", extrasaction="raise"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _joined(field: str, values: Iterable[str]) -> str | None:
    values = list(values)
    for i, value in enumerate(values):
        if LIST_SEPARATOR in value:
            raise MappingError(
                f"{field}[{i}]", f"contains {LIST_SEPARATOR!r}, which separates list values in the asset"
            )
    return LIST_SEPARATOR.join(values) or None


def _cell(field: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _joined(field, value)
    raise MappingError(field, f"must be text, a number, a boolean or a list of text, not {value!r}")


MAPPER = Mapper(
    # 2: formula-like cells are quoted (a new digest for those items: sent once more).
    provider="thoughtindustries",
    version=2,
    to_payload=to_payload,
    to_deactivation=to_deactivation,
    reads_options=("content",),
)
