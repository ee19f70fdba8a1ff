"""Reading 360Learning's bulk operation results: what each entry proves about its course.

Only an entry with ``status: "success"`` and a string ``input.externalId`` (our item id) proves
its course succeeded; one in another state is ``UNVERIFIED`` for its course, one naming no
externalId is skipped (the core fails items without a result).
"""

from __future__ import annotations

from typing import Any

from workers.errors import UNVERIFIED
from workers.providers.base import ItemResult

__all__ = ["item_result", "shown"]


def shown(value: Any) -> str:
    """``value`` as a message shows it: its repr, at most 300 characters."""
    return repr(value)[:300]


def item_result(raw: Any) -> ItemResult | None:
    """One entry of ``/results``, keyed by its input's externalId (our item id); None if it has none."""
    entry = raw.get("input") if isinstance(raw, dict) else None
    external_id = entry.get("externalId") if isinstance(entry, dict) else None
    if not isinstance(external_id, str):
        return None
    status = raw.get("status")
    if status == "success":
        resource = raw.get("resourceId")
        return ItemResult(
            external_id, ok=True, remote_id=resource if isinstance(resource, str) and resource else None
        )
    if status == "error":
        message = raw.get("errorMessage")
        text = str(message) if message else "360Learning reported an error for this course"
        return ItemResult(external_id, ok=False, code="itemError", message=text)
    why = f"360Learning's result for this course has an unknown status {shown(status)}: {shown(raw)}"
    return ItemResult(external_id, ok=False, code=UNVERIFIED, message=why)
