"""The HTTP boundary shared by every provider client.

``map_errors`` is the one place where ``httpx`` exceptions become ``workers.errors`` exceptions;
``error_for_status`` turns a non-2xx answer into the right branch of the tree. Provider modules
only extract their own error code and message from the body and may override the class for
codes they know (Kombo asks clients to branch on ``error.code``, not on the status).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from workers.errors import (
    AuthError,
    ConcurrencyLimited,
    NotFound,
    PermanentError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)

__all__ = ["dumps", "error_for_status", "json_body", "map_errors", "retry_after_s"]

#: Above this a reset header is an epoch timestamp, below it a number of seconds.
_EPOCH_THRESHOLD_S = 1_000_000_000


def dumps(body: Any) -> bytes:
    """Compact JSON bytes, as sent on the wire (and as sized by the chunker)."""
    return orjson.dumps(body)


@contextmanager
def map_errors(provider: str, connection: str, url: str) -> Iterator[None]:
    """Translate every ``httpx`` exception raised inside into our exception tree."""
    ctx: dict[str, Any] = {"provider": provider, "connection": connection, "url": url}
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable(f"no answer in time ({type(exc).__name__})", **ctx) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(f"cannot use URL {url!r}: {exc}; check base_url", **ctx) from exc
    except httpx.TooManyRedirects as exc:
        raise PermanentError(f"too many redirects: {exc}; check base_url", **ctx) from exc
    except (httpx.TransportError, httpx.DecodingError, httpx.StreamError) as exc:
        raise ProviderUnavailable(f"connection failed ({type(exc).__name__}: {exc})", **ctx) from exc
    except httpx.HTTPError as exc:  # any subclass added by a future httpx
        raise ProviderUnavailable(f"HTTP failure ({type(exc).__name__}: {exc})", **ctx) from exc


def retry_after_s(headers: Mapping[str, str], now_s: float | None = None) -> float | None:
    """The provider's wait hint in seconds: Retry-After, then ratelimit-reset / X-RateLimit-Reset."""
    now = time.time() if now_s is None else now_s
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(raw) if raw.strip() else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    for name in ("ratelimit-reset", "x-ratelimit-reset"):
        raw = headers.get(name)
        if raw:
            try:
                value = float(raw)
            except ValueError:
                continue
            return max(0.0, value - now) if value > _EPOCH_THRESHOLD_S else max(0.0, value)
    return None


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or None when it has none (load balancer pages, empty bodies)."""
    try:
        return response.json()
    except ValueError:
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
