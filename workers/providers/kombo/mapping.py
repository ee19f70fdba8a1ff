"""Kombo: canonical course -> one item of ``POST /lms/courses/bulk`` (PostLmsCoursesBulkRequestBody)."""

from __future__ import annotations

from typing import Any

from schemas.course import Course
from workers.providers.extras import merge_checked
from workers.providers.mapping import Mapper, Options

__all__ = ["MAPPER", "to_deactivation", "to_payload", "to_prune"]


def to_payload(course: Course, options: Options) -> dict[str, Any]:
    """``{"origin_id", "course": {"type": "EXTERNAL", ...}}``; ``extra.kombo`` merges into course.

    Raises:
        MappingError: the course with ``extra.kombo`` merged breaks Kombo's schema.
    """
    # Built field by field rather than through without_none: every item of a catalog comes
    # through here. The keys keep their order (the request's bytes do not change).
    body: dict[str, Any] = {"type": "EXTERNAL", "title": course.title, "course_url": course.url}
    if course.description is not None:
        body["description"] = course.description
    if course.thumbnail_url is not None:
        body["thumbnail_url"] = course.thumbnail_url
    if course.duration_minutes is not None:  # Kombo's duration is an integer number of minutes, like ours
        body["duration"] = course.duration_minutes
    if course.languages:
        body["languages"] = list(course.languages)
    item = {"origin_id": course.id, "course": body}
    extra = course.extra.get("kombo")
    if extra:  # tested first: every item of a catalog comes through here
        # Kombo refuses the whole 1,000-item request for one bad course: refuse this item alone.
        request, schema = {"items": [item]}, "PostLmsCoursesBulkRequestBody"
        merge_checked("kombo", body, extra, schema=schema, request=request, at="items[0].course")
    return item


def to_deactivation(course: Course, options: Options) -> dict[str, Any]:
    """Kombo deactivates one course at a time, by id: ``POST /lms/courses/{id}/deactivate``."""
    return {"origin_id": course.id}


def to_prune(item_id: str, options: Options) -> tuple[str, dict[str, Any]]:
    return "deactivate", {"origin_id": item_id}


MAPPER = Mapper(
    provider="kombo", version=1, to_payload=to_payload, to_deactivation=to_deactivation, to_prune=to_prune
)
