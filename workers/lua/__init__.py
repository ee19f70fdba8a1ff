"""Every Lua script coursesync runs in Redis, in one place: one ``<name>.lua`` file each.

Each file opens with the keys it touches (``KEYS``), its arguments (``ARGV``), what it returns
and why it must be one atomic step. Shared snippets are files whose names start with ``_``
(``_now``: Redis' clock; ``_finalize``: ending a run; ``_push_capped``); a script pulls one in
with a line ``--@include _name``. Scripts run by SHA (EVALSHA, loaded on first use or after a
Redis restart), on clients and pipelines alike::

    lua.run(r, "settle_batch", keys=[...], args=[...])

Only the modules that own the state a script writes call it: ``workers.ledger`` (runs,
batches, the dispatch queue, the poll schedule, the outbox) and ``workers.ratelimit`` (budgets,
pauses, slots); ``release_lock`` serves every lock (``workers.locks``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from redis.commands.core import Script

__all__ = ["run", "source"]

_HERE = Path(__file__).parent
_INCLUDE = "--@include "
_scripts: dict[str, Script] = {}


@cache
def source(name: str) -> str:
    """The script ``name`` with its includes expanded, dependencies first, each once."""
    return "\n".join(_body(n) for n in _needs(name))


def _lines(name: str) -> list[str]:
    return (_HERE / f"{name}.lua").read_text(encoding="utf-8").splitlines()


def _body(name: str) -> str:
    return "\n".join(line for line in _lines(name) if not line.startswith(_INCLUDE))


def _needs(name: str) -> list[str]:
    """``name`` and everything it includes, dependencies first, each once."""
    found: list[str] = []
    for line in _lines(name):
        if line.startswith(_INCLUDE):
            found += [n for n in _needs(line[len(_INCLUDE) :].strip()) if n not in found]
    return [*found, name]


def run(client: Any, name: str, keys: list[str], args: list[Any]) -> Any:
    """Run script ``name`` on ``client`` (a Redis client, or a pipeline whose result comes later)."""
    script = _scripts.get(name)
    if script is None:
        # The first client only lends its encoder; every call names its own client.
        script = _scripts[name] = Script(client, source(name))
    return script(keys=keys, args=args, client=client)
