"""Checking a payload into which an item's ``extra.<provider>`` was merged.

``extra`` carries provider fields coursesync does not know, merged as given. Kombo and
360Learning validate a bulk request as a whole, so one bad value there refuses every item of
the batch. A mapping that merged an extra therefore checks the item against the provider's own
vendored schema, as one item of a one-item request, and a violation makes that item invalid
with the field (``extra.kombo.duration``) and the reason; the other items go on. Items without
an extra for the provider are not checked: their payloads are built from validated fields, and
the producer's plain path must stay as fast as it is.
"""

from __future__ import annotations

from typing import Any

from workers.providers.mapping import MappingError

__all__ = ["MAX_REASON_CHARS", "check_merged", "merge_checked"]

#: Characters of a reason kept: an enum failure quotes every value (360Learning has 80 languages).
MAX_REASON_CHARS = 200


def merge_checked(
    provider: str, item: dict[str, Any], extra: dict[str, Any] | None, *, schema: str, request: Any, at: str
) -> None:
    """Merge ``extra`` (``extra.<provider>``) into ``item``, then ``check_merged`` it.

    ``request`` is the one-item request body that holds ``item`` at path ``at``.
    """
    if extra:
        item.update(extra)
        check_merged(provider, schema, request, item_path=at, extra=extra)


def check_merged(provider: str, schema: str, request: Any, *, item_path: str, extra: dict[str, Any]) -> None:
    """Raise MappingError when ``request`` breaks the vendored schema ``schema`` of ``provider``.

    Parameters:
        request: a one-item request body holding the merged item at ``item_path``
            (``items[0].course``, as ``schemas.vendored.json_path`` writes it).
        extra: what ``extra.<provider>`` merged; a field it set is named
            ``extra.<provider>.<field>``, any other by its path in the item.
    """
    # Imported here: jsonschema and fastjsonschema cost ~5 MB and 40 ms to load, which a
    # catalog without extras (and a producer that never checks one) should not pay.
    from schemas.vendored import describe_errors

    found, _ = describe_errors(provider, schema, request, limit=1)
    if not found:
        return
    path, _, reason = found[0].partition(": ")
    rest = path[len(item_path) :] if path.startswith(item_path) else path
    key = rest.lstrip(".").split(".", 1)[0].split("[", 1)[0]
    field = f"extra.{provider}{rest}" if key in extra else rest.lstrip(".") or "(item)"
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    raise MappingError(field, reason)
