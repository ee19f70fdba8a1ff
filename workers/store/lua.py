"""Lua scripts run by SHA (EVALSHA, loading on first use), on clients and pipelines alike."""

from __future__ import annotations

from typing import Any

from redis.commands.core import Script

__all__ = ["run_script"]

_cache: dict[str, Script] = {}


def run_script(client: Any, source: str, keys: list[str], args: list[Any]) -> Any:
    """Run ``source`` on ``client`` (a Redis client or a pipeline, whose result comes later)."""
    found = _cache.get(source)
    if found is None:
        # The first client only lends its encoder; every call names its own client.
        found = _cache[source] = Script(client, source)
    return found(keys=keys, args=args, client=client)
