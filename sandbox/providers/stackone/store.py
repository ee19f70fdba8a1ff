"""What the sandbox's StackOne remembers: per linked account, the content upserted into its LMS.

StackOne has no batch job: an accepted item reaches the store while the batch request is
answered. Items are keyed by ``external_reference``, StackOne's upsert key; re-upserting one
replaces it (StackOne has no partial updates) and keeps its ids.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sandbox.http import iso_utc, stable_id

__all__ = ["CONTENT_FIELDS", "READ_CONTENT_TYPES", "Content", "StackOneStore", "content_doc", "is_active"]

#: Fields of an upserted item that StackOne's ``Content`` (the read model) has too.
CONTENT_FIELDS = (
    "external_reference", "title", "description", "short_description", "languages", "content_url",
    "mobile_launch_content_url", "content_type", "cover_url", "duration", "categories", "skills",
    "order", "localizations", "tags", "authors", "unified_custom_fields",
)  # fmt: skip


#: The read model's ``ContentTypeEnum`` is narrower than the write one (no course, book...).
READ_CONTENT_TYPES = frozenset({"video", "quiz", "document", "audio", "article", "unmapped_value"})


def is_active(value: Any) -> bool:
    """StackOne's ``active`` is a boolean or the string "true"/"false"; absent means active."""
    return value is not False and value != "false"


@dataclass(slots=True)
class Content:
    id: str
    remote_id: str
    item: dict[str, Any]  #: the last upserted LmsUpsertContentRequestDto, as received
    active: bool
    upserts: int  #: accepted upserts of this external_reference (1 = created)
    created_s: float  #: epoch seconds
    updated_s: float


class StackOneStore:
    """Content by account and external_reference, in first-upsert order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._content: dict[str, dict[str, Content]] = {}  # account -> external_reference -> content

    def upsert(self, account: str, item: dict[str, Any], now_s: float) -> Content:
        """Create or replace the content of ``item["external_reference"]``."""
        ref = item["external_reference"]
        with self._lock:
            found = self._content.setdefault(account, {}).get(ref)
            if found is None:
                found = Content(
                    id=stable_id("content", account, ref),
                    remote_id=stable_id("lms", account, ref),
                    item=item,
                    active=is_active(item.get("active")),
                    upserts=0,
                    created_s=now_s,
                    updated_s=now_s,
                )
                self._content[account][ref] = found
            found.item, found.active, found.updated_s = item, is_active(item.get("active")), now_s
            found.upserts += 1
            return found

    def held(self, now_s: float) -> list[str]:
        """The external references of every content the LMS holds (any account)."""
        del now_s  # StackOne stores at once: nothing to settle
        with self._lock:
            return sorted({ref for content in self._content.values() for ref in content})

    def get(self, account: str, external_reference: str) -> Content | None:
        with self._lock:
            return self._content.get(account, {}).get(external_reference)

    def page(
        self, account: str, offset: int, size: int, *, active_only: bool
    ) -> tuple[list[dict[str, Any]], bool]:
        """``size`` documents in StackOne's ``Content`` shape from ``offset``, and whether more exist."""
        with self._lock:
            found = [c for c in self._content.get(account, {}).values() if c.active or not active_only]
            return [content_doc(c) for c in found[offset : offset + size]], offset + size < len(found)


def content_doc(content: Content) -> dict[str, Any]:
    """One item of ``GET /unified/lms/content`` (StackOne's ``Content``)."""
    doc = {k: content.item[k] for k in CONTENT_FIELDS if content.item.get(k) is not None}
    kind = doc.get("content_type") or {}
    if kind.get("value") and kind["value"] not in READ_CONTENT_TYPES:
        # What a unified read does with a value outside its enum: keep it as the source value.
        doc["content_type"] = {"value": "unmapped_value", "source_value": kind["value"]}
    return {
        "id": content.id,
        "remote_id": content.remote_id,
        **doc,
        "active": content.active,
        "created_at": iso_utc(content.created_s),
        "updated_at": iso_utc(content.updated_s),
    }
