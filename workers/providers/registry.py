"""The configured connections, cached per process.

The connections file is re-read when it changes on disk, so a worker picks up a new connection
without a restart. The provider clients built for them are ``workers.clients``.
"""

from __future__ import annotations

import os
from pathlib import Path

from workers.config import get_settings
from workers.connections import Connection, load_connections
from workers.errors import ConfigError

__all__ = ["get_connection", "get_connections"]

_config_cache: dict[tuple[str, float], dict[str, Connection]] = {}


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def get_connections() -> dict[str, Connection]:
    """Every configured connection, re-read when the file changes."""
    path = str(Path(get_settings().config))
    key = (path, _mtime(path))
    if key not in _config_cache:
        _config_cache.clear()
        _config_cache[key] = load_connections(path)
    return _config_cache[key]


def get_connection(name: str) -> Connection:
    connections = get_connections()
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise ConfigError(f"unknown connection {name!r}; configured: {known}")
    return connections[name]
