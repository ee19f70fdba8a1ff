"""A course as the toy LMS takes it: id, title, url, active, and whatever ``extra.toy`` adds."""

from __future__ import annotations

from typing import Any

from schemas.course import Course
from workers.providers.mapping import Mapper, Options

__all__ = ["MAPPER"]


def to_payload(course: Course, options: Options) -> dict[str, Any]:
    item = {"id": course.id, "title": course.title, "url": course.url, "active": course.active}
    return {**item, **course.extra.get("toy", {})}


MAPPER = Mapper(provider="toy", version=1, to_payload=to_payload)
