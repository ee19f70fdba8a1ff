"""The HTTP boundary shared by every provider client.

``map_errors`` is the one place where ``httpx`` exceptions become ``workers.errors`` exceptions;
``error_for_status`` turns a non-2xx answer into the right branch of the tree. Clients call both
through ``json_api.JsonApi``; a provider's ``errors`` module only reads its own error code and
message from the body and may override the class for codes it knows (Kombo asks clients to
branch on ``error.code``, not on the status).

Transport failures split by what the provider may have done: when the request certainly was not
processed (no connection, nothing or not all of it written) the error is ``ProviderUnavailable``;
when it may have reached the provider and the answer was lost (read timeout, dropped or garbled
answer) it is ``AnswerLost``, because a remote job may exist that coursesync cannot name.

Wait hints (``retry_after_s``) come from headers anyone can get wrong, so a hint that cannot be
read is no hint, and none is ever negative, infinite or longer than ``max_hint_s()``
(``COURSESYNC_MAX_PROVIDER_WAIT_S``).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from workers.config import get_settings
from workers.errors import (
    AnswerLost,
    AuthError,
    ConcurrencyLimited,
    NotFound,
    PermanentError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)

__all__ = [
    "clamp_hint",
    "dumps",
    "error_for_status",
    "json_body",
    "map_errors",
    "max_hint_s",
    "retry_after_s",
]


def max_hint_s() -> float:
    """Longest wait a provider's hint may impose (``COURSESYNC_MAX_PROVIDER_WAIT_S``)."""
    return get_settings().max_provider_wait_s


#: Above this a reset header is epoch milliseconds (1e12 ms is 2001; 1e12 s is year 33658).
_EPOCH_MS_THRESHOLD = 1_000_000_000_000
#: Above this (and below the one above) a reset header is epoch seconds, below it a number of
#: seconds (1e9 s is 2001; no window lasts 31 years).
_EPOCH_S_THRESHOLD = 1_000_000_000
#: Errors after which the request certainly was not processed: no connection was made, or the
#: request was not (wholly or validly) written. Every other transport error may have come after
#: the provider acted, so it is ``AnswerLost`` (base classes and future ones included).
_NOT_SENT = (
    httpx.ConnectTimeout,
    httpx.ConnectError,
    httpx.PoolTimeout,
    httpx.WriteTimeout,
    httpx.WriteError,
    httpx.ProxyError,
    httpx.LocalProtocolError,
)


def dumps(body: Any) -> bytes:
    """Compact JSON bytes, as sent on the wire (and as sized by the chunker)."""
    return orjson.dumps(body)


@contextmanager
def map_errors(provider: str, connection: str, url: str) -> Iterator[None]:
    """Translate every ``httpx`` exception raised inside into our exception tree."""
    ctx: dict[str, Any] = {"provider": provider, "connection": connection, "url": url}
    try:
        yield
    except _NOT_SENT as exc:
        raise ProviderUnavailable(f"connection failed ({type(exc).__name__}: {exc})", **ctx) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(f"cannot use URL {url!r}: {exc}; check base_url", **ctx) from exc
    except httpx.TooManyRedirects as exc:
        raise PermanentError(f"too many redirects: {exc}; check base_url", **ctx) from exc
    except (httpx.HTTPError, httpx.StreamError) as exc:
        # Read time-outs, dropped or garbled answers, undecodable bodies, and any class a future
        # httpx adds: the request went out, so the provider may have acted on it.
        name = type(exc).__name__
        what = f"no answer in time ({name})" if isinstance(exc, httpx.TimeoutException) else f"{name}: {exc}"
        raise AnswerLost(f"{what}; the request went out, the provider may have acted on it", **ctx) from exc


def clamp_hint(seconds: float) -> float | None:
    """``seconds`` as a usable wait: None when not finite, 0 when negative, at most max_hint_s()."""
    if not math.isfinite(seconds):
        return None
    return min(max_hint_s(), max(0.0, seconds))


def _number(raw: str) -> float | None:
    """A finite float from a header value, or None (``inf``, ``nan``, ``1e400``, garbage)."""
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _retry_after(raw: str, now: float) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); None when unreadable."""
    value = _number(raw)
    if value is not None:
        return None if value < 0 else clamp_hint(value)  # a negative delay is not a delay
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return clamp_hint(parsed.timestamp() - now)
    except (OverflowError, OSError, ValueError):  # naive dates far outside the platform's range
        return None


def _reset(raw: str, now: float) -> float | None:
    """A reset header: epoch milliseconds, epoch seconds or a number of seconds (see above)."""
    value = _number(raw)
    if value is None or value < 0:
        return None
    if value > _EPOCH_MS_THRESHOLD:
        return clamp_hint(value / 1000 - now)
    if value > _EPOCH_S_THRESHOLD:
        return clamp_hint(value - now)
    return clamp_hint(value)


def retry_after_s(headers: Mapping[str, str], now_s: float | None = None) -> float | None:
    """The provider's wait hint in seconds, or None when it gave none that can be read.

    Looks at ``Retry-After`` (seconds or an HTTP date), ``retry-after-ms`` (Kombo), then
    ``ratelimit-reset`` / ``X-RateLimit-Reset`` (seconds, epoch seconds or epoch milliseconds).
    The first header that can be read wins; one that cannot is skipped. Never raises; the result
    is finite, at least 0 and at most ``max_hint_s()``.
    """
    now = time.time() if now_s is None else now_s
    readers = (
        ("retry-after", _retry_after),
        ("retry-after-ms", lambda raw, _: _millis(raw)),
        ("ratelimit-reset", _reset),
        ("x-ratelimit-reset", _reset),
    )
    for name, read in readers:
        try:
            raw = headers.get(name)
        except (TypeError, ValueError, UnicodeDecodeError):  # undecodable header bytes
            continue
        if raw and raw.strip():
            found = read(raw, now)
            if found is not None:
                return found
    return None


def _millis(raw: str) -> float | None:
    value = _number(raw)
    return None if value is None or value < 0 else clamp_hint(value / 1000)


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or None when it has none (load balancer pages, empty bodies)."""
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond the parser
        return None


def error_for_status(
    response: httpx.Response,
    *,
    provider: str,
    connection: str,
    code: str | None,
    message: str,
    concurrency_codes: frozenset[str] = frozenset(),
) -> ProviderError:
    """The exception a non-2xx answer deserves, chosen by status (providers may override)."""
    status = response.status_code
    ctx: dict[str, Any] = {
        "provider": provider,
        "connection": connection,
        "status_code": status,
        "code": code,
        "url": str(response.request.url) if response.request else None,
    }
    wait = retry_after_s(response.headers)
    if status == 429:
        cls = ConcurrencyLimited if code in concurrency_codes else RateLimited
        return cls(message, retry_after_s=wait, **ctx)
    if status in (408, 425) or (status >= 500 and status != 501):
        return ProviderUnavailable(message, retry_after_s=wait, **ctx)
    if status in (401, 403):
        return AuthError(message, **ctx)
    if status == 404:
        return NotFound(message, **ctx)
    if status in (400, 413, 422):
        return ProviderRejected(message, **ctx)
    return PermanentError(message, **ctx)
