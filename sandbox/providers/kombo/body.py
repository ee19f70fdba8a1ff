"""What makes the sandbox's Kombo refuse a whole bulk body (400 ``PLATFORM.INPUT_INVALID``).

Kombo validates the whole body before it makes a task: one bad item (an ill-typed or missing
field, or, by the sandbox's choice ``kombo_unknown_fields``, an unknown one) refuses the
request, and the message names the item by index and origin_id.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Any

from schemas.vendored import describe_errors, problems_text, schema

__all__ = ["body_problem"]


def body_problem(body: Any, *, refuse_unknown: bool) -> str | None:
    """Why Kombo refuses the whole body (schema, unknown fields, duplicate origin ids), or None.

    One bad item fails the request; the message names it by index and origin_id.
    """
    problems, total = describe_errors("kombo", "PostLmsCoursesBulkRequestBody", body)
    if not problems and refuse_unknown:
        problems = _unknown_fields(body["items"])
        total = len(problems)
    if problems:
        named = [_name_item(p, body) for p in problems[:3]]
        return "The request body is invalid: " + problems_text(named, total)
    seen = Counter(item["origin_id"] for item in body["items"])
    repeated = [origin for origin, n in seen.items() if n > 1]
    if repeated:
        shown = ", ".join(repr(o) for o in repeated[:3])
        return f"items: origin_id must be unique within one request; repeated: {shown}."
    return None


_ITEM_PATH = re.compile(r"^items\[(\d+)\]")


def _name_item(problem: str, body: Any) -> str:
    """``items[3].course.x: why`` as ``items[3].course.x: why (origin_id 'c4')``."""
    found = _ITEM_PATH.match(problem)
    items = body.get("items") if isinstance(body, dict) else None
    if not found or not isinstance(items, list) or int(found[1]) >= len(items):
        return problem
    item = items[int(found[1])]
    origin = item.get("origin_id") if isinstance(item, dict) else None
    if not isinstance(origin, str):
        return problem
    return f"{problem} (origin_id {origin!r})"


@cache
def _known_fields() -> tuple[frozenset[str], frozenset[str]]:
    """The fields of an item and of its course in Kombo's schema."""
    item = schema("kombo", "PostLmsCoursesBulkRequestBody")["properties"]["items"]["items"]
    course = item["properties"]["course"]["oneOf"][0]
    return frozenset(item["properties"]), frozenset(course["properties"])


def _unknown_fields(items: list[dict[str, Any]]) -> list[str]:
    item_fields, course_fields = _known_fields()
    problems = []
    for index, item in enumerate(items):
        for where, fields, known in (("", item, item_fields), (".course", item["course"], course_fields)):
            for name in sorted(set(fields) - known):
                problems.append(f"items[{index}]{where}: unknown field {name!r}")
    return problems
