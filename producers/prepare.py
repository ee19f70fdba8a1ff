"""One raw record -> a validated, mapped ``OutboundItem`` or the reasons it is invalid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from producers.readers import Record
from schemas.course import Course
from schemas.course_fast import decode_course, validate_fast
from workers.providers.base import OutboundItem
from workers.providers.mapping import Mapper, MappingError, canonical_json, content_digest

__all__ = [
    "INACTIVE_MARK",
    "ItemError",
    "Prepared",
    "digest_and_canonical",
    "digest_and_size",
    "item_label",
    "map_canonical",
    "map_course",
    "prepare",
    "validate_record",
]


@dataclass(frozen=True, slots=True)
class ItemError:
    """A validation error naming the item, where it is in the catalog, the field and the reason."""

    item_id: str
    position: int
    field: str
    message: str

    def as_record(self) -> dict[str, Any]:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return {
            "item_id": self.item_id,
            "stage": "validation",
            "code": "invalid",
            "field": self.field,
            "line": self.position,
            "message": text,
        }


# Not frozen: one is made per catalog item, and frozen dataclasses are several times slower
# to build (object.__setattr__ per field). Treat it as a value all the same.
@dataclass(slots=True)
class Prepared:
    item: OutboundItem
    op: str
    size_bytes: int


def item_label(record: Record) -> str:
    """The item's id when it has a usable one, else its position (``line 12``)."""
    data = record.data
    if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"].strip():
        return str(data["id"])[:255]
    return f"(line {record.position})"


#: Stored digests of items last sent as inactive start with this, so pruning skips them.
INACTIVE_MARK = "x"


def digest_and_canonical(
    mapper: Mapper, op: str, payload: dict[str, Any], *, active: bool
) -> tuple[str, bytes]:
    """The content digest stored once the provider confirms the item (see INACTIVE_MARK), and
    the payload's canonical JSON (its length is the item's size on the wire)."""
    canonical = canonical_json(payload)
    digest = content_digest(mapper, op, payload, canonical)
    return (digest if active else INACTIVE_MARK + digest), canonical


def digest_and_size(mapper: Mapper, op: str, payload: dict[str, Any], *, active: bool) -> tuple[str, int]:
    """The content digest and the item's size in bytes on the wire, from one serialisation."""
    digest, canonical = digest_and_canonical(mapper, op, payload, active=active)
    return digest, len(canonical)


def validate_record(record: Record) -> Course | list[ItemError]:
    """Validate one record: the canonical ``Course``, or every reason it is invalid."""
    if record.line is not None:  # a JSON line, not parsed yet: decoded and validated at once
        course = decode_course(record.line)
        if course is not None:
            return course
    if record.error is not None:
        return [ItemError(item_label(record), record.position, "", record.error)]
    result = validate_fast(record.data)
    if not isinstance(result, Course):
        label = item_label(record)
        return [ItemError(label, record.position, e.field, e.message) for e in result]
    return result


def map_canonical(
    course: Course, position: int, mapper: Mapper, options: dict[str, Any]
) -> tuple[str, dict[str, Any], str, bytes] | list[ItemError]:
    """(op, payload, digest, canonical payload JSON) of a valid item for ``mapper``'s provider,
    or why it cannot be mapped."""
    try:
        op, payload = mapper.prepare(course, options)
        canonical = canonical_json(payload)
    except MappingError as exc:
        return [ItemError(course.id, position, exc.field, exc.message)]
    except Exception as exc:  # a mapping bug, or a value JSON cannot carry (an int over 64 bits)
        why = f"could not be mapped ({type(exc).__name__}: {exc})"
        return [ItemError(course.id, position, "(item)", why)]
    # digest_and_canonical, inlined: every item of a catalog comes through here.
    digest = content_digest(mapper, op, payload, canonical)
    return op, payload, (digest if course.active else INACTIVE_MARK + digest), canonical


def map_course(
    course: Course, position: int, mapper: Mapper, options: dict[str, Any]
) -> Prepared | list[ItemError]:
    """Map a valid item to ``mapper``'s provider payload, with its digest and size."""
    mapped = map_canonical(course, position, mapper, options)
    if isinstance(mapped, list):
        return mapped
    op, payload, digest, canonical = mapped
    return Prepared(OutboundItem(course.id, digest, payload, canonical), op, len(canonical))


def prepare(record: Record, mapper: Mapper, options: dict[str, Any]) -> Prepared | list[ItemError]:
    """Validate and map one record. Never raises for bad data."""
    course = validate_record(record)
    if not isinstance(course, Course):
        return course
    return map_course(course, record.position, mapper, options)
