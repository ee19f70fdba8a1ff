"""One provider's JSON-over-HTTP calls: the plumbing every client shares, written once.

A client builds one ``JsonApi`` from what is its own, the way its error answers read
(``ErrorWords``: the code and message an answer carries, the codes that mean a concurrency
limit, a refinement of the class chosen by status, and the advice each error deserves), and
sends every request through it: ``map_errors`` around the exchange, then the answer of a 2xx,
or for any other status the exception ``error_for_status`` chooses, refined, with the advice
appended as ``(connection 'name': advice)``. ``JsonClient`` is the constructor they share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import redis

from workers.connections import Connection
from workers.errors import ProviderError
from workers.providers.http import dumps, error_for_status, json_body, map_errors

__all__ = ["ErrorWords", "Hint", "JsonApi", "JsonClient", "no_hint"]

#: An error -> the advice for the connection's operator, or None.
Hint = Callable[[ProviderError], str | None]
Headers = dict[str, str] | None


def no_hint(exc: ProviderError) -> str | None:
    return None


def _as_is(exc: ProviderError, response: httpx.Response, body: Any) -> ProviderError:
    return exc


@dataclass(frozen=True)
class ErrorWords:
    """How one provider words its error answers."""

    #: (the answer's JSON or None, the answer) -> (the provider's code or None, its message).
    read: Callable[[Any, httpx.Response], tuple[str | None, str]]
    #: The advice for an error, by default.
    hint: Hint = no_hint
    #: Codes that mean "too many at once" rather than "too many per minute" (on a 429).
    concurrency_codes: frozenset[str] = frozenset()
    #: (the error chosen by status, the answer, its JSON) -> the error to raise (Kombo decides
    #: by its code table; Thought Industries reads a wait from the body).
    refine: Callable[[ProviderError, httpx.Response, Any], ProviderError] = field(default=_as_is)


@dataclass(frozen=True)
class JsonApi:
    """The calls of one connection: ``http`` to its provider, errors read by ``words``."""

    http: httpx.Client
    provider: str
    connection: str
    words: ErrorWords

    def exchange(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: Headers = None,
        *,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request (``body`` as JSON, or raw ``content``); the answer, whatever its status.

        Raises:
            ProviderError: the transport failed (``map_errors`` says which branch).
        """
        sent = dict(headers or {})
        if body is not None:
            content = dumps(body)
            sent.setdefault("Content-Type", "application/json")
        with map_errors(self.provider, self.connection, url):
            return self.http.request(method, url, headers=sent, content=content)

    def checked(self, response: httpx.Response, hint: Hint | None = None) -> httpx.Response:
        """``response`` if it is a 2xx, else raises the error it means (``hint`` for this call)."""
        if response.is_success:
            return response
        raise self.error(response, hint)

    def call(
        self, method: str, url: str, body: Any = None, headers: Headers = None, hint: Hint | None = None
    ) -> Any:
        """The JSON of the 2xx answer to one request (None if it has none), else raises."""
        return json_body(self.checked(self.exchange(method, url, body, headers), hint))

    def error(self, response: httpx.Response, hint: Hint | None = None) -> ProviderError:
        """The exception a non-2xx answer means, with the provider's code, message and advice."""
        body = json_body(response)
        code, message = self.words.read(body, response)
        exc = error_for_status(
            response,
            provider=self.provider,
            connection=self.connection,
            code=code,
            message=message,
            concurrency_codes=self.words.concurrency_codes,
        )
        exc = self.words.refine(exc, response, body)
        advice = (hint or self.words.hint)(exc)
        if advice:
            exc.message = f"{exc.message} (connection {self.connection!r}: {advice})"
        return exc


class JsonClient:
    """What every provider client built on ``JsonApi`` starts from: its connection, its calls
    (``_api``, errors read by the class's ``words``), its HTTP client and Redis."""

    name: ClassVar[str]
    words: ClassVar[ErrorWords]

    def __init__(self, connection: Connection, http: httpx.Client, kv: redis.Redis) -> None:
        self._conn = connection
        self._http = http
        self._api = JsonApi(http, self.name, connection.name, self.words)
        self._kv = kv
