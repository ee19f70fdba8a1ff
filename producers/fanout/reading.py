"""Reading a fan-out's catalog once: validated once, mapped once per mapping key, filtered
once per view, written as a snapshot (``producers.fanout.snapshot``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from producers.fanout.memory import Memory, line_hash
from producers.fanout.plan import View
from producers.fanout.snapshot import SnapshotWriter
from producers.prepare import ItemError, map_canonical, validate_record
from producers.producer import UNATTRIBUTED_LINES_KEPT
from producers.readers import Record
from producers.sources import Source, records_of
from schemas.course import Course
from workers import keys
from workers.config import Settings
from workers.ledger.fingerprints import fingerprint, sub_of

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
    # A catalog named by a path or URL may be read again by the next fan-out: what this one
    # learns is kept (a list of items given in process has no lines to remember).
    memory = Memory(settings.catalog_dir, source, fmt, directory.name) if isinstance(source, str) else None
    try:
        _read(
            source,
            fmt,
            views=views,
            groups=groups,
            writer=writer,
            settings=settings,
            memory=memory,
            check=check,
        )
        if memory is not None:
            if memory.known:
                _map_deferred(writer, groups, memory)
            else:
                for shard, rows in writer.learnt():
                    memory.write(shard, {item_id: [hashed, mapped] for _, item_id, hashed, mapped in rows})
            memory.commit()
    except BaseException:
        if memory is not None:
            memory.abandon()
        raise
    return writer.close()


def _read(
    source: Source, fmt: str | None, *, views: list[View], groups: list[list[View]], writer: SnapshotWriter,
    settings: Settings, memory: Memory | None, check: Callable[[], None],
) -> None:  # fmt: skip
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
        line = record.line  # kept when the line was decoded straight (a plainly valid item)
        if memory is None or line is None:
            for group in groups:
                _map_into(writer, group, course, place, record.position)
        elif memory.known:
            _defer(writer, views, course, place, position=record.position, line=line)
        else:
            # The first fan-out of this source: mapped as read, and what it maps is remembered.
            mapped = {}
            for group in groups:
                found = _map_into(writer, group, course, place, record.position)
                if found is not None:
                    mapped[group[0].mapping_key] = found
            writer.remember(course.id, place[0], line_hash(line), mapped)


def _defer(
    writer: SnapshotWriter, views: list[View], course: Course, place: tuple[int, int], *, position: int,
    line: bytes,
) -> None:  # fmt: skip
    """Count the views that exclude the item; the item waits for its shard's turn, where the
    memory may know its digests (``_map_deferred``)."""
    licensed = []
    for view in views:
        if view.entitlement is None or view.entitlement.allows(course):
            licensed.append(view.index)
        else:
            writer.views[view.index].excluded += 1
    if licensed:
        writer.defer(course.id, line, bucket=place[0], sub=place[1], position=position,
                     hashed=line_hash(line), views=licensed)  # fmt: skip


def _map_deferred(writer: SnapshotWriter, groups: list[list[View]], memory: Memory) -> None:
    """Give each view the deferred items, a shard of buckets at a time: the digest the memory
    knows for an unchanged line and mapping, else the item mapped now. Write what is learnt."""
    every = len(writer.views)
    for shard, rows in writer.deferred():
        known = memory.shard(shard)
        learnt: dict[str, list[Any]] = {}
        for bucket, item_id, position, sub, hashed, licensed, offset, size in rows:
            before = known.get(item_id)
            remembered: dict[str, list[Any]] = before[1] if before and before[0] == hashed else {}
            kept = dict(remembered)
            course: Course | list[ItemError] | None = None
            for group in groups:
                # Most items are licensed to every view (no filter leaves them out).
                chosen = group if len(licensed) == every else [v for v in group if v.index in licensed]
                if not chosen:
                    continue
                hit = remembered.get(group[0].mapping_key)
                if hit is not None:
                    digest, op, n = hit[:3]
                    if len(hit) > 3:
                        share = hit[3]
                    else:  # a memory written before shares were kept beside the digests
                        share = fingerprint(item_id, digest)
                        kept[group[0].mapping_key] = [digest, op, n, share]
                    for view in chosen:
                        writer.views[view.index].add_known(
                            item_id, bucket, digest, op, size=n, raw=(offset, size), line=position, sub=sub,
                            share=share,
                        )  # fmt: skip
                    continue
                if course is None:  # it was valid when read: the same bytes are valid again
                    course = validate_record(Record(position, line=writer.line(offset, size)))
                mapped = (
                    map_canonical(course, position, group[0].mapper, group[0].options)
                    if isinstance(course, Course)
                    else course
                )
                if isinstance(mapped, list):
                    for view in chosen:
                        writer.views[view.index].refuse(mapped)
                    continue
                op, _, digest, canonical = mapped
                share = fingerprint(item_id, digest)
                for view in chosen:
                    writer.views[view.index].add(
                        item_id, bucket, digest, op, canonical, line=position, sub=sub, share=share
                    )
                kept[group[0].mapping_key] = [digest, op, len(canonical), share]
            learnt[item_id] = [hashed, kept]
        memory.write(shard, learnt)


def _map_into(
    writer: SnapshotWriter, group: list[View], course: Course, place: tuple[int, int], position: int
) -> list[Any] | None:
    """Map ``course`` once for views sharing a mapping; each view that licenses it gets it.
    ``[digest, op, size, fingerprint share]`` when it was mapped (None: refused, or no view licenses it)."""
    mapped: tuple[str, dict[str, Any], str, bytes] | list[ItemError] | None = None
    share = 0
    for view in group:
        out = writer.views[view.index]
        if view.entitlement is not None and not view.entitlement.allows(course):
            out.excluded += 1
            continue
        if mapped is None:
            mapped = map_canonical(course, position, view.mapper, view.options)
            if not isinstance(mapped, list):
                share = fingerprint(course.id, mapped[2])
        if isinstance(mapped, list):
            out.refuse(mapped)
        else:
            op, _, digest, canonical = mapped
            out.add(course.id, place[0], digest, op, canonical, line=position, sub=place[1], share=share)
    if mapped is None or isinstance(mapped, list):
        return None
    return [mapped[2], mapped[0], len(mapped[3]), share]
