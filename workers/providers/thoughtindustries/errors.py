"""How Thought Industries words its errors (assumption A9), and the advice each gets.

The documented 429 body is ``{"error", "message", "retryAfter"}``; every other error body is
assumed to have the same shape (A9). ``retryAfter`` is the wait when no header gave one.
"""

from __future__ import annotations

from typing import Any

import httpx

from workers.errors import AuthError, NotFound, ProviderError, TransientError
from workers.providers.http import clamp_hint
from workers.providers.json_api import ErrorWords

__all__ = ["WORDS", "hint"]

_AUTH_HINTS = {
    401: "check api_key",
    403: "the API key's role lacks a permission the content import needs; check api_key's role",
}


def _read(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    body = body if isinstance(body, dict) else {}
    code = body.get("error") if isinstance(body.get("error"), str) else None
    return code, str(body.get("message") or code or response.reason_phrase)


def _refine(exc: ProviderError, response: httpx.Response, body: Any) -> ProviderError:
    wait: Any = body.get("retryAfter") if isinstance(body, dict) else None
    if isinstance(exc, TransientError) and exc.retry_after_s is None and _number(wait):
        exc.retry_after_s = clamp_hint(float(wait))  # the body's hint when no header came
    return exc


def hint(exc: ProviderError, *, not_found: str | None = None) -> str | None:
    """The advice for ``exc``; ``not_found`` is the call's own advice for a 404."""
    if isinstance(exc, NotFound):
        return not_found
    return _AUTH_HINTS.get(exc.status_code or 0) if isinstance(exc, AuthError) else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


WORDS = ErrorWords(read=_read, hint=hint, refine=_refine)
