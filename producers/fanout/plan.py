"""Which connections a fan-out names, and how few passes over the catalog serve them all.

Connections are named as a comma-separated list of names, globs (``acme-*``) and groups
(``@customers``, from the config file's ``[groups]`` table). A *view* is what one set of
connections receives: the same mapper with the same mapping options (``Mapper.mapping_key``)
and the same entitlement filter. The catalog is validated once, mapped once per mapping key,
filtered once per view; each connection then only diffs its view against what it holds.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workers.config import get_settings
from workers.connections import Connection, load_groups
from workers.entitlements import Entitlement
from workers.errors import ConfigError
from workers.providers.installed import get_mapper
from workers.providers.mapping import Mapper
from workers.providers.registry import get_connections

__all__ = ["View", "plan_views", "resolve_connections"]

_GLOB = frozenset("*?[")


def resolve_connections(names: str | Iterable[str]) -> list[str]:
    """The connection names ``names`` stands for, in the order given, each once.

    Raises ConfigError for an unknown name or group, or a glob that matches nothing.
    """
    parts = [p.strip() for p in names.split(",")] if isinstance(names, str) else [p.strip() for p in names]
    parts = [p for p in parts if p]
    if not parts:
        raise ConfigError("name at least one connection (a name, a glob like acme-*, or @group)")
    known = sorted(get_connections())
    found: list[str] = []
    for part in parts:
        for name in _expand(part, known):
            if name not in found:
                found.append(name)
    return found


def _expand(part: str, known: list[str]) -> list[str]:
    if part.startswith("@"):
        groups = load_groups(Path(get_settings().config))
        if part[1:] not in groups:
            have = ", ".join(sorted(groups)) or "none ([groups] in the config file defines them)"
            raise ConfigError(f"unknown group {part!r}; groups: {have}")
        return [name for member in groups[part[1:]] for name in _expand(member, known)]
    if _GLOB & set(part):
        matched = fnmatch.filter(known, part)
        if not matched:
            raise ConfigError(f"{part!r} matches no connection; configured: {', '.join(known) or 'none'}")
        return matched
    if part not in known:
        raise ConfigError(f"unknown connection {part!r}; configured: {', '.join(known) or 'none'}")
    return [part]


@dataclass(frozen=True)
class View:
    """What a set of connections receives: one mapping, one filter (None: everything)."""

    index: int
    mapper: Mapper
    mapping_key: str
    #: The options the mapping reads (the first connection's: they agree on them), no others.
    options: dict[str, object]
    entitlement: Entitlement | None


def plan_views(connections: list[Connection]) -> tuple[list[View], dict[str, int]]:
    """The views the connections need, and each connection's view index."""
    views: list[View] = []
    by_key: dict[tuple[str, str], int] = {}
    view_of: dict[str, int] = {}
    for conn in connections:
        mapper = get_mapper(conn.provider)
        mapping_key = mapper.mapping_key(conn.options)
        filter_key = conn.entitlement.key if conn.entitlement else ""
        index = by_key.get((mapping_key, filter_key))
        if index is None:
            index = by_key[(mapping_key, filter_key)] = len(views)
            options = {k: conn.options[k] for k in mapper.reads_options if k in conn.options}
            views.append(View(index, mapper, mapping_key, options, conn.entitlement))
        view_of[conn.name] = index
    return views, view_of
