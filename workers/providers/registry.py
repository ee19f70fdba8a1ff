"""The configured connections, cached per process: the file's, merged with the stored ones.

The connections file is re-read when it changes on disk, and the connection store
(``workers.connection_store``) when its generation counter moves, so a worker picks up a new or
changed connection without a restart. The counter is read at most every
``Settings.connections_refresh_s``: the per-batch lookup costs no Redis round trip. A stored
connection wins over a file one of the same name (the API changed it after the file was
written). The provider clients built for them are ``workers.clients``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import redis

from workers import keys
from workers.config import get_settings
from workers.connections import Connection, load_connections
from workers.errors import ConfigError

__all__ = ["get_connection", "get_connections", "refresh_soon"]

log = logging.getLogger(__name__)


class _Cache:
    #: (file path, its mtime, store generation) the connections were built from.
    key: tuple[str, float, str | None] | None = None
    connections: dict[str, Connection] = {}  # noqa: RUF012 - one per process, reassigned whole
    #: The last generation read, and when (monotonic seconds).
    generation: str | None = None
    checked_at: float = float("-inf")
    pid: int = 0


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def _generation() -> str | None:
    """The store's generation, re-read at most every connections_refresh_s (and after a fork)."""
    now = time.monotonic()
    if _Cache.pid == os.getpid() and now - _Cache.checked_at < get_settings().connections_refresh_s:
        return _Cache.generation
    from workers.redis_client import get_redis

    try:
        _Cache.generation = get_redis().get(keys.CONNECTIONS_GENERATION)  # type: ignore[assignment]
    except redis.RedisError as exc:
        # No Redis, no store: the file still configures (CLI dry runs, file-only set-ups). The
        # last stored connections seen stay in use until Redis answers again.
        log.warning("connection store unreadable (%s); using the connections already known", exc)
    _Cache.checked_at, _Cache.pid = now, os.getpid()
    return _Cache.generation


def get_connections() -> dict[str, Connection]:
    """Every configured connection: the file's and the store's, the store winning on a name."""
    path = str(Path(get_settings().config))
    key = (path, _mtime(path), _generation())
    if key != _Cache.key:
        _Cache.connections = _load(path, stored=key[2] is not None)
        _Cache.key = key
    return _Cache.connections


def _load(path: str, *, stored: bool) -> dict[str, Connection]:
    from workers.connection_store import load_stored
    from workers.redis_client import get_redis

    found = load_stored(get_redis()) if stored else {}
    try:
        from_file = load_connections(path)
    except ConfigError:
        if found and _mtime(path) < 0:
            return found  # the store alone configures this deployment: no file needed
        raise
    return {**from_file, **found}


def refresh_soon() -> None:
    """Read the store's generation on the next lookup: this process just changed a connection."""
    _Cache.checked_at = float("-inf")


def get_connection(name: str) -> Connection:
    connections = get_connections()
    if name not in connections:
        # Created a moment ago (a run started right after POST /v1/connections): look again now
        # rather than wait out the refresh interval. Only a miss pays this round trip.
        refresh_soon()
        connections = get_connections()
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise ConfigError(f"unknown connection {name!r}; configured: {known}")
    return connections[name]
