"""``COURSESYNC_REDIS_URL`` naming Redis Sentinels, parsed in one place.

A plain ``redis://`` (``rediss://``, ``unix://``) URL names one Redis and is left to redis-py.
A Sentinel URL names the Sentinels that know which Redis is the master of a group::

    sentinel://[[user]:password@]host:port[;host:port...]/db?master=NAME[&sentinel_password=PW]

``redis+sentinel://`` is the same; hosts may be separated by ``;`` or ``,``; a port left out is
26379; ``master`` defaults to ``mymaster``; the database to 0. ``user``/``password`` are the
Redis master's (and replicas'), ``sentinel_password`` the Sentinels' own (``requirepass`` in
sentinel.conf), when they have one.

Celery's broker and result backend read Sentinels in kombu's syntax instead (one
``sentinel://`` URL per Sentinel, the group name in transport options): ``kombu_url`` and
``transport_options`` convert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from workers.errors import ConfigError

__all__ = ["DEFAULT_MASTER", "SENTINEL_PORT", "SentinelUrl", "celery_url", "parse_sentinel_url"]

SCHEMES = ("sentinel", "redis+sentinel")
DEFAULT_MASTER = "mymaster"
SENTINEL_PORT = 26379
#: Asking a Sentinel where the master is: a tiny command, so a Sentinel that does not answer
#: within this is skipped for the next one (state clients, broker and result backend alike).
SENTINEL_SOCKET_TIMEOUT_S = 1.0
_QUERY = ("master", "sentinel_password")
_REPEATED_SCHEME = re.compile(r"[;,]\s*(?:redis\+)?sentinel://", re.IGNORECASE)


@dataclass(frozen=True)
class SentinelUrl:
    """Where the Sentinels are, which master group to ask them for, and how to log in."""

    sentinels: tuple[tuple[str, int], ...]
    master: str = DEFAULT_MASTER
    db: int = 0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)

    def kombu_url(self) -> str:
        """The broker/result-backend URL in kombu's and Celery's syntax: ``;``-joined
        ``sentinel://`` URLs, each carrying the master's credentials and the database."""
        auth = ""
        if self.password is not None or self.username is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return ";".join(f"sentinel://{auth}{_netloc(host)}:{port}/{self.db}" for host, port in self.sentinels)

    def sentinel_kwargs(self) -> dict[str, Any]:
        """redis-py options for the connections to the Sentinels themselves."""
        found: dict[str, Any] = {
            "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT_S,
        }
        if self.sentinel_password is not None:
            found["password"] = self.sentinel_password
        return found

    def transport_options(self) -> dict[str, Any]:
        """``broker_transport_options`` / ``result_backend_transport_options`` entries."""
        return {"master_name": self.master, "sentinel_kwargs": self.sentinel_kwargs()}


def celery_url(url: str) -> tuple[str, dict[str, Any]]:
    """COURSESYNC_REDIS_URL as Celery's broker (or result backend) URL and the transport
    options it needs: a plain Redis URL as is, Sentinels converted (``kombu_url``)."""
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return url, {}
    return sentinel.kombu_url(), sentinel.transport_options()


def parse_sentinel_url(url: str) -> SentinelUrl | None:
    """``url`` as Sentinels, or None when it names one Redis (any other scheme).

    Raises:
        ConfigError: a Sentinel URL with no host, a bad port or database, an empty or unknown
            query parameter. The message never quotes the password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        return None
    where = "COURSESYNC_REDIS_URL (Sentinel)"
    rest = _REPEATED_SCHEME.sub(";", rest)  # kombu's style, one URL per Sentinel, pasted in
    parts = urlsplit("sentinel://" + rest)  # urlsplit knows neither scheme: give it a neutral one
    userinfo, at, hosts = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
        if not colon:  # "pw@host": redis-py reads a lone user info as the password
            username, password = None, unquote(user)
    sentinels = tuple(
        _host_port(chunk, where) for chunk in hosts.replace(",", ";").split(";") if chunk.strip()
    )
    if not sentinels:
        raise ConfigError(f"{where}: names no Sentinel host (expected sentinel://host:port[;host:port]/db)")
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ConfigError(f"{where}: the database must be a number, not {db_text!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - set(_QUERY))
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(_QUERY)}")
    master = query.get("master", DEFAULT_MASTER)
    if not master:
        raise ConfigError(f"{where}: master= is empty; name the Sentinels' master group")
    return SentinelUrl(
        sentinels,
        master=master,
        db=int(db_text),
        username=username,
        password=password,
        sentinel_password=query.get("sentinel_password") or None,
    )


def _host_port(chunk: str, where: str) -> tuple[str, int]:
    chunk = chunk.strip()
    if chunk.startswith("["):  # [IPv6]:port
        host, _, tail = chunk[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = chunk.rpartition(":") if ":" in chunk else (chunk, "", "")
    if not host:
        raise ConfigError(f"{where}: Sentinel {chunk!r} has no host name")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ConfigError(f"{where}: Sentinel {chunk!r} has no valid port")
    return host, int(port_text) if port_text else SENTINEL_PORT


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host
