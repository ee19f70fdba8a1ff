"""Connections and provider clients for worker processes, cached per process.

The connections file is re-read when it changes on disk, so a worker picks up a new connection
without a restart. Each connection gets one ``httpx.Client`` (keep-alive pool) per process, and
one client of its provider, the class its registration names (``workers.providers.installed``).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import redis

from workers.config import get_settings
from workers.connections import Connection, load_connections
from workers.errors import ConfigError
from workers.providers.base import Provider
from workers.providers.deadline import DeadlineTransport
from workers.providers.installed import get_plugin
from workers.redis_client import get_redis

__all__ = ["get_connection", "get_connections", "get_provider", "make_http_client"]

_config_cache: dict[tuple[str, float], dict[str, Connection]] = {}
_provider_cache: dict[tuple[int, str, float], Provider] = {}


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


def make_http_client(connection: Connection, r: redis.Redis) -> httpx.Client:
    """The HTTP client every call of ``connection`` goes through: timeouts from Settings, and
    a hook through which every answer teaches the fleet-wide limiter."""
    from workers.ratelimit.feedback import response_hook

    timeout_s = get_settings().provider_timeout_s
    pool = httpx.HTTPTransport(limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))
    return httpx.Client(
        # Each read or write times out after timeout_s, and the whole request too (deadline.py).
        transport=DeadlineTransport(pool, total_s=timeout_s),
        event_hooks={"response": [response_hook(r, connection)]},
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        headers={"User-Agent": "coursesync/0.1"},
        follow_redirects=False,
    )


def get_provider(name: str) -> Provider:
    """The provider client of connection ``name`` for this process."""
    connection = get_connection(name)
    path = str(Path(get_settings().config))
    key = (os.getpid(), name, _mtime(path))
    provider = _provider_cache.get(key)
    if provider is None:
        factory = get_plugin(connection.provider).load_client()
        provider = _provider_cache[key] = factory(
            connection, make_http_client(connection, get_redis()), get_redis()
        )
    return provider
