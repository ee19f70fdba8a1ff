"""Provider clients for worker processes: one per connection and process, built with the HTTP
client every call goes through.

Each connection gets one ``httpx.Client`` (keep-alive pool) per process, with timeouts from the
settings, a total deadline per request (``workers.providers.deadline``), and a response hook
through which every answer teaches the fleet-wide limiter (``workers.ratelimit.feedback``);
then one client of its provider, the class its registration names
(``workers.providers.installed``). Clients are rebuilt when the registry reloads the connection
(the file changed, or the connection store did: a new credential must not wait for a restart).
"""

from __future__ import annotations

import os

import httpx
import redis

from workers.config import get_settings
from workers.connections import Connection
from workers.outbound import PolicyTransport, outbound_policy
from workers.providers.base import Provider
from workers.providers.deadline import DeadlineTransport
from workers.providers.installed import get_plugin
from workers.providers.registry import get_connection
from workers.ratelimit.feedback import response_hook
from workers.redis_client import get_redis

__all__ = ["get_provider", "make_http_client"]

#: (pid, name) -> (the Connection the client was built for, the client).
_provider_cache: dict[tuple[int, str], tuple[Connection, Provider]] = {}


def make_http_client(connection: Connection, r: redis.Redis) -> httpx.Client:
    """The HTTP client every call of ``connection`` goes through."""
    timeout_s = get_settings().provider_timeout_s
    pool = httpx.HTTPTransport(limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))
    # Anything but the provider's own host (an asset store elsewhere) is a customer's URL.
    own = frozenset({httpx.URL(connection.base_url).host})
    checked = PolicyTransport(outbound_policy(), pool, trusted=own)
    return httpx.Client(
        # Each read or write times out after timeout_s, and the whole request too (deadline.py).
        transport=DeadlineTransport(checked, total_s=timeout_s),
        event_hooks={"response": [response_hook(r, connection)]},
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        headers={"User-Agent": "coursesync/0.1"},
        follow_redirects=False,
    )


def get_provider(name: str) -> Provider:
    """The provider client of connection ``name`` for this process."""
    connection = get_connection(name)
    key = (os.getpid(), name)
    cached = _provider_cache.get(key)
    # The registry builds new Connection objects whenever it reloads: identity says "changed".
    if cached is not None and cached[0] is connection:
        return cached[1]
    factory = get_plugin(connection.provider).load_client()
    provider = factory(connection, make_http_client(connection, get_redis()), get_redis())
    _provider_cache[key] = (connection, provider)
    return provider
