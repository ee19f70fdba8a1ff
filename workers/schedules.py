"""Scheduled resyncs declared in a connection's ``[connections.NAME.schedule]`` table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workers.errors import ConfigError

__all__ = ["Schedule", "parse_duration_s", "parse_schedule"]

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])")


@dataclass(frozen=True)
class Schedule:
    """Where the catalog comes from and when to resync it (exactly one of every_s and cron)."""

    source: str
    every_s: float | None = None
    cron: str | None = None
    prune: bool = False
    full: bool = False


def parse_duration_s(text: str) -> float:
    """``"90s"``, ``"15m"``, ``"6h"``, ``"1d"`` or combinations like ``"1h30m"`` -> seconds."""
    rest, total = text.strip(), 0.0
    if not rest:
        raise ValueError("empty duration")
    while rest:
        m = _DURATION.match(rest)
        if not m:
            raise ValueError(f"{text!r} is not a duration like 90s, 15m, 6h or 1d")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        rest = rest[m.end() :]
    if total <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return total


def parse_schedule(where: str, table: Any) -> Schedule:
    """Validate a schedule table; errors name the key and say what is expected."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - {"source", "every", "cron", "prune", "full"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; known: source, every, cron, prune, full"
        )
    source = table.get("source")
    if not isinstance(source, str) or not source:
        raise ConfigError(
            f"{where}.source must be a file path, an http(s) URL, or a reference to one "
            '("env:NAME" or "file:/run/secrets/NAME")'
        )
    if ("every" in table) == ("cron" in table):
        raise ConfigError(f'{where}: set exactly one of every (e.g. "6h") or cron (e.g. "0 */6 * * *")')
    for flag in ("prune", "full"):
        if flag in table and not isinstance(table[flag], bool):
            raise ConfigError(f"{where}.{flag} must be true or false")
    every_s = None
    cron = None
    if "every" in table:
        try:
            every_s = parse_duration_s(str(table["every"]))
        except ValueError as exc:
            raise ConfigError(f"{where}.every: {exc}") from None
    else:
        cron = str(table["cron"])
        if len(cron.split()) != 5:
            raise ConfigError(f"{where}.cron {cron!r} must have five fields: minute hour day month weekday")
    return Schedule(
        source=source,
        every_s=every_s,
        cron=cron,
        prune=bool(table.get("prune", False)),
        full=bool(table.get("full", False)),
    )
