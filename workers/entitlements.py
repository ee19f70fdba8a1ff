"""Entitlements: which catalog items a connection's customer licensed.

A connection may carry a ``filter`` table; an item is sent to it only if it matches every key the
filter names, and within a key, any of its values::

    [connections.acme-kombo.filter]
    tags = ["compliance", "security"]     # any of the item's tags
    categories = ["Leadership"]           # any of the item's categories
    languages = ["en", "de-DE"]           # "en" takes en, en-US, en-GB...; "de-DE" only de-DE
    content_types = ["course", "video"]   # the item's content_type (default course)
    ids = ["c-1", "c-2"]                  # explicit item ids

Items the filter leaves out end ``excluded`` in the connection's run (a terminal state, neither
sent nor failed) and, when the run prunes, are deactivated at the provider if the connection
held them before, like items gone from the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.course import CONTENT_TYPES, LANGUAGE_TAG, Course
from workers.errors import ConfigError

__all__ = ["FILTER_KEYS", "Entitlement", "parse_filter"]

FILTER_KEYS = ("tags", "categories", "languages", "content_types", "ids")


@dataclass(frozen=True)
class Entitlement:
    """A parsed ``filter`` table; None for a key it does not name."""

    tags: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    content_types: frozenset[str] | None = None
    ids: frozenset[str] | None = None

    @property
    def key(self) -> str:
        """A stable text naming what the filter lets through: connections with equal keys share
        one filtering pass of a fan-out."""
        named = {k: sorted(v) for k in FILTER_KEYS if (v := getattr(self, k)) is not None}
        return orjson.dumps(named, option=orjson.OPT_SORT_KEYS).decode()

    def allows(self, course: Course) -> bool:
        if self.ids is not None and course.id not in self.ids:
            return False
        if self.content_types is not None and course.content_type not in self.content_types:
            return False
        if self.tags is not None and self.tags.isdisjoint(course.tags):
            return False
        if self.categories is not None and self.categories.isdisjoint(course.categories):
            return False
        if self.languages is not None:
            wanted = self.languages
            if not any(tag in wanted or tag.split("-", 1)[0] in wanted for tag in course.languages):
                return False
        return True


def parse_filter(where: str, table: Any) -> Entitlement:
    """Validate a ``filter`` table. Raises ConfigError naming ``<where>.filter.<key>``."""
    where = f"{where}.filter"
    if not isinstance(table, dict):
        raise ConfigError(f'{where} must be a table, e.g. {{ tags = ["compliance"] }}')
    unknown = sorted(set(table) - set(FILTER_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {list(FILTER_KEYS)}")
    if not table:
        raise ConfigError(f"{where} names nothing to filter by; known keys: {list(FILTER_KEYS)}")
    values: dict[str, frozenset[str]] = {}
    for key, value in table.items():
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}.{key} must be a non-empty list of strings")
        if key == "languages":
            bad = [v for v in value if not LANGUAGE_TAG.match(v)]
            if bad:
                raise ConfigError(f"{where}.languages: {bad[0]!r} is not a language tag like en or en-US")
        if key == "content_types":
            bad = [v for v in value if v not in CONTENT_TYPES]
            if bad:
                raise ConfigError(
                    f"{where}.content_types: {bad[0]!r} is not one of {', '.join(CONTENT_TYPES)}"
                )
        values[key] = frozenset(value)
    return Entitlement(**values)
