"""How StackOne words its errors, and the advice each gets.

Errors come as ``{statusCode, message, timestamp, data?, provider_errors?}`` without a code of
their own, so the HTTP status decides (``error_for_status``); 412 (disabled or suspended
account) and 501 (not implemented for this LMS) are permanent. What the LMS behind StackOne
answered is kept in the message.
"""

from __future__ import annotations

from typing import Any

import httpx

from workers.errors import ProviderError
from workers.providers.http import dumps
from workers.providers.json_api import ErrorWords
from workers.providers.stackone.answers import RAW_CHARS

__all__ = ["WORDS"]

_HINTS = {
    401: "check api_key (StackOne's API key, sent as the Basic auth user with an empty password)",
    403: "the API key lacks the scope; use a Full Access key, not a Read Only one",
    404: "check account_id (the linked account id sent as x-account-id)",
    412: "the linked account of account_id is disabled, suspended or expired; re-link it in StackOne",
    501: "StackOne cannot upsert content into the LMS behind account_id",
}


def _read(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or response.reason_phrase or f"HTTP {response.status_code}")
    raw = _provider_detail(body)
    return None, f"{message} (the LMS said: {raw})" if raw else message


def _hint(exc: ProviderError) -> str | None:
    return _HINTS.get(exc.status_code or 0)


def _provider_detail(body: dict[str, Any]) -> str | None:
    """What the LMS behind StackOne answered, from ``provider_errors`` or ``data``, shortened."""
    errors = body.get("provider_errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        raw = first.get("raw")
        text = dumps(raw).decode() if raw is not None else ""
        return f"HTTP {first.get('status')} {text}".strip()[:RAW_CHARS]
    data = body.get("data")
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:RAW_CHARS]
    return None


WORDS = ErrorWords(read=_read, hint=_hint)
