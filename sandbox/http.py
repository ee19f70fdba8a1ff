"""Plain values between the HTTP server and the fake providers, so handlers are easy to test.

A provider is one folder of ``sandbox/providers/`` whose ``api.API`` class satisfies
:class:`Provider`: a URL prefix, a list of :class:`Route` and a way to shape the errors the
framework itself produces (unknown route, body too large, injected faults). Handlers are
``Request -> Response`` functions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

__all__ = [
    "Handler",
    "Provider",
    "Request",
    "Response",
    "Route",
    "iso_utc",
    "json_response",
    "stable_id",
    "unresolvable_host",
]

#: Alphabet of the ids the sandbox makes up (base58, like the 24-character ids of Kombo).
_ID_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass
class Request:
    method: str
    path: str  #: without the query string, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  #: names in lower case
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  #: path parameters, decoded

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            ValueError: with a message fit for a 400 answer.
        """
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"The request body is not valid JSON ({exc}).") from None

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, if any."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None

    def arg(self, name: str) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds the server waits, after the work is done, before answering (a slow or hung server).
    delay_s: float = 0.0


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """``pattern`` is relative to the provider's prefix, with ``{name}`` for one path segment."""

    method: str
    pattern: str
    handler: Handler
    #: Key of the statistics and the request log; the pattern unless given.
    name: str = ""
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: the derived fields are set once here, the only place that may.
        object.__setattr__(self, "name", self.name or self.pattern)
        source = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        object.__setattr__(self, "regex", re.compile(f"^{source}$"))

    def match(self, path: str) -> dict[str, str] | None:
        """Decoded path parameters if ``path`` (relative to the prefix) fits the pattern."""
        m = self.regex.match(path)
        return {k: unquote(v) for k, v in m.groupdict().items()} if m else None


class Provider(Protocol):
    """One fake provider, mounted under ``prefix`` (e.g. ``/kombo/v1``)."""

    name: str  #: short name used in statistics, e.g. "kombo"
    prefix: str

    def routes(self) -> Sequence[Route]: ...

    def held(self) -> list[str]:
        """Our item ids this provider's LMS holds now, for tests that check what a client
        claims against what really arrived (``GET /_sandbox/held``)."""
        ...

    def error(self, status: int, message: str) -> Response:
        """An error in the provider's own shape for failures the framework detects or injects:
        404/405 (no route), 411/413 (body), 429 and 503 (injected faults, outages)."""
        ...


def json_response(status: int, doc: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def unresolvable_host(url: object) -> str | None:
    """The host of ``url`` if the sandbox's "remote LMS" refuses it, else None.

    Shared rule of every provider: hosts under ``.invalid`` (RFC 2606: never resolves) are
    rejected per item, so demos and tests can provoke item-level failures with valid input.
    """
    try:
        host = urlsplit(str(url)).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the netloc
        return None
    return host if host == "invalid" or host.endswith(".invalid") else None


def stable_id(*parts: str, length: int = 24) -> str:
    """An id derived from ``parts`` only, so the same object gets the same id in every run."""
    n = int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        n, digit = divmod(n, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return "".join(chars)


def iso_utc(epoch_s: float) -> str:
    """``2026-11-23T10:15:42.123Z``: ISO 8601 in UTC with milliseconds, as the providers send."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
