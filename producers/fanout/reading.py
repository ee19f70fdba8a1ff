"""Reading a fan-out's catalog once: validated once, mapped once per mapping key, filtered
once per view, written as a snapshot (``producers.fanout.snapshot``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from producers.fanout.plan import View
from producers.fanout.snapshot import SnapshotWriter
from producers.prepare import ItemError, map_canonical, validate_record
from producers.producer import UNATTRIBUTED_LINES_KEPT
from producers.sources import Source, records_of
from schemas.course import Course
from workers import keys
from workers.config import Settings
from workers.ledger.fingerprints import sub_of

__all__ = ["read_snapshot"]

#: Records read between two calls of ``check`` (a cancelled fan-out stops reading).
CHECK_EVERY = 10_000


def read_snapshot(
    source: Source,
    fmt: str | None,
    views: list[View],
    directory: Path,
    settings: Settings,
    *,
    check: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Read ``source`` into a snapshot for ``views`` in ``directory``; its metadata.

    Raises CatalogError when the catalog as a whole cannot be read.
    """
    writer = SnapshotWriter(directory, len(views))
    by_mapping: dict[str, list[View]] = {}
    for view in views:
        by_mapping.setdefault(view.mapping_key, []).append(view)
    groups = list(by_mapping.values())
    seen: set[int] = set()
    for record in records_of(source, fmt, settings):
        writer.total += 1
        if writer.total % CHECK_EVERY == 0:
            check()
        course = validate_record(record)
        if not isinstance(course, Course):
            if course[0].item_id.startswith("(line "):
                writer.unattributed += 1
                if len(writer.unattributed_lines) < UNATTRIBUTED_LINES_KEPT:
                    writer.unattributed_lines.append(record.position)
            writer.add_invalid(course)
            continue
        key = hash(course.id)
        if key in seen:
            why = "duplicate id: an earlier item of this catalog has it"
            writer.add_invalid([ItemError(course.id, record.position, "id", why)])
            continue
        seen.add(key)
        place = (keys.item_bucket(course.id), sub_of(course.id))
        for group in groups:
            _map_into(writer, group, course, place, record.position)
    return writer.close()


def _map_into(
    writer: SnapshotWriter, group: list[View], course: Course, place: tuple[int, int], position: int
) -> None:
    """Map ``course`` once for views sharing a mapping; each view that licenses it gets it."""
    mapped: tuple[str, dict[str, Any], str, bytes] | list[ItemError] | None = None
    for view in group:
        out = writer.views[view.index]
        if view.entitlement is not None and not view.entitlement.allows(course):
            out.excluded += 1
            continue
        if mapped is None:
            mapped = map_canonical(course, position, view.mapper, view.options)
        if isinstance(mapped, list):
            out.refuse(mapped)
        else:
            op, _, digest, canonical = mapped
            out.add(course.id, place[0], digest, op, canonical, line=position, sub=place[1])
