"""StackOne's vendored schemas as the sandbox and the StackOne mapping read them.

StackOne makes almost every field nullable (``anyOf: [<schema>, {"type": "null"}]``), and
jsonschema's ``best_match`` then blames the ``null`` branch ("{...} is not of type 'null'").
:func:`problems` follows the branch that got deepest into the instance instead, so a message
names the field that is actually wrong (``items[0].content_type.value: 'podcast' is not one of``).
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError

from schemas.vendored import describe_errors, json_path, schema

__all__ = ["LOCALES", "problems"]

#: StackOne's unified locales (``LanguageEnum``), e.g. ``en_GB``; the spec spells one ``bs-ME``.
LOCALES: frozenset[str] = frozenset(
    value
    for value in schema("stackone", "LmsUpsertContentRequestDto")["properties"]["languages"]["items"][
        "properties"
    ]["value"]["enum"]
    if value not in (None, "unmapped_value")
)
#: Characters of one problem kept: an enum failure would quote all 412 locales.
MAX_PROBLEM_CHARS = 200


def problems(name: str, instance: Any, limit: int = 3) -> tuple[list[str], int]:
    """``path: reason`` for the first ``limit`` violations of schema ``name``, and their number."""
    return describe_errors("stackone", name, instance, limit, describe=_describe)


def _describe(error: ValidationError) -> str:
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    text = f"{json_path(error.absolute_path)}: {error.message}"
    return text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 1] + "…"
