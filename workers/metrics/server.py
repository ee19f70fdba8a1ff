"""`coursesync metrics`: the Prometheus endpoint, protected like Flower.

Credentials come from ``COURSESYNC_METRICS_AUTH`` in Flower's ``FLOWER_BASIC_AUTH`` format
(``user:password``, several separated by commas). Without them the endpoint still works, but
only on loopback: counters name connections and providers, which is not for every network.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import redis
from prometheus_client import CollectorRegistry, make_wsgi_app

from workers.connections import Connection
from workers.errors import ConfigError
from workers.metrics.budgets import BudgetCollector
from workers.metrics.collector import RedisCollector
from workers.providers.registry import get_connections

__all__ = ["DEFAULT_PORT", "make_metrics_server", "metrics_registry", "parse_credentials"]

log = logging.getLogger(__name__)

#: Where `coursesync metrics` listens unless told otherwise (Flower has 5555).
DEFAULT_PORT = 9808
_LOOPBACK = "127.0.0.1"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def parse_credentials(spec: str) -> list[str]:
    """``user:password[,user:password...]`` -> the accepted ``user:password`` strings."""
    creds = [c.strip() for c in spec.split(",") if c.strip()]
    for cred in creds:
        user, sep, password = cred.partition(":")
        if not (user and sep and password):
            raise ConfigError("COURSESYNC_METRICS_AUTH must be user:password (several separated by commas)")
    return creds


def _authorized(header: str, credentials: list[str]) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Compare against every entry, in constant time each, so timing tells nothing.
    return any([hmac.compare_digest(given.encode(), c.encode()) for c in credentials])


def with_basic_auth(app: WsgiApp, credentials: list[str]) -> WsgiApp:
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not _authorized(environ.get("HTTP_AUTHORIZATION", ""), credentials):
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Basic realm="coursesync metrics"'), ("Content-Type", "text/plain")],
            )
            return [b"Access denied\n"]
        return app(environ, start_response)

    return guarded


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the process on shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("scrape from %s: " + format, self.client_address[0], *args)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def metrics_registry(r: redis.Redis, connections: Callable[[], list[Connection]]) -> CollectorRegistry:
    """Every metric the endpoint serves (``ops/`` checks its rules and dashboards against it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(r))
    registry.register(BudgetCollector(r, connections))
    return registry


def make_metrics_server(r: redis.Redis, *, host: str | None, port: int, credentials: list[str]) -> WSGIServer:
    """A server for ``/metrics`` (any path answers); call ``serve_forever()`` on it.

    Without ``credentials`` it binds loopback only; asking for another address then is a
    ConfigError rather than an open endpoint.
    """
    app: WsgiApp = make_wsgi_app(metrics_registry(r, lambda: list(get_connections().values())))
    if credentials:
        app = with_basic_auth(app, credentials)
        host = host or "0.0.0.0"  # noqa: S104 - protected by basic auth
    elif host is None or _is_loopback(host):
        host = host or _LOOPBACK
    else:
        raise ConfigError(
            f"refusing to serve metrics on {host} without authentication; "
            "set COURSESYNC_METRICS_AUTH=user:password or serve on 127.0.0.1"
        )
    server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    bound = server.server_address[1]
    if credentials:
        log.info("serving metrics on http://%s:%d/metrics (basic auth)", host, bound)
    else:
        log.warning(
            "serving metrics on http://%s:%d/metrics WITHOUT authentication, on loopback only "
            "(COURSESYNC_METRICS_AUTH is not set)",
            host,
            bound,
        )
    return server
