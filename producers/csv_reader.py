"""CSV catalogs: a header row of canonical field names, then one item per row.

Rows are cut out of the stream by ``producers.csv_rows`` (capped; a broken record is one
invalid record); here they become items: list fields ``;``-separated, JSON in translations and
extra, numbers and booleans from their text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from producers.capped import line_cap
from producers.csv_rows import CsvRows, has_bad_bytes
from producers.records import TOO_DEEP, Record, describe_json_error
from workers.errors import CatalogError

__all__ = ["read_csv"]

_LIST_FIELDS = ("languages", "tags", "skills", "categories")
_JSON_FIELDS = ("translations", "extra")
_KNOWN_COLUMNS = frozenset(
    (
        "id", "title", "url", "description", "short_description", "mobile_url", "thumbnail_url",
        "duration_minutes", "languages", "content_type", "difficulty", "tags", "skills",
        "categories", "translations", "source", "active", "updated_at", "extra",
    )
)  # fmt: skip


def _check_header(header: list[str]) -> None:
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


def read_csv(stream: IO[bytes], max_line_bytes: int | None = None) -> Iterator[Record]:
    """A header row of canonical field names; list fields ``;``-separated, JSON in translations/extra.
    ``max_line_bytes``: the cap on one record (default: the setting)."""
    rows = CsvRows(stream, line_cap(max_line_bytes))
    header = rows.header()
    if header is None:
        return
    _check_header(header)
    for row in rows.rows(len(header), header.index("id")):
        record = row if isinstance(row, Record) else _row(row[0], header, row[1])
        if record is not None:
            yield record


def _row(lineno: int, header: list[str], row: list[str]) -> Record | None:
    if not any(cell.strip() for cell in row):
        return None
    if len(row) != len(header):
        return Record(lineno, error=f"has {len(row)} cells but the header has {len(header)} columns")
    cells = dict(zip(header, row, strict=True))
    bad = [name for name, cell in cells.items() if has_bad_bytes(cell)]
    if bad:
        known = {"id": cells["id"]} if "id" not in bad else None  # names the item when it can
        return Record(lineno, known, error=f"{bad[0]}: not valid UTF-8")
    return _csv_record(lineno, cells)


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
                why = describe_json_error(exc) if isinstance(exc, ValueError) else TOO_DEEP
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
