"""How 360Learning words its errors, and the advice each gets.

Most errors are ``{"error": {"code", "message"}}``; OAuth, 401 and rate-limit errors are a bare
string (``{"error": "invalid_token"}``) with no message of their own. Three bulk operations at
once per company is a concurrency limit (``bulkOperationsConcurrencyLimitReached``), not a quota.
"""

from __future__ import annotations

from typing import Any

import httpx

from workers.errors import AuthError, ProviderError
from workers.providers.json_api import ErrorWords

__all__ = ["TOKEN_WORDS", "WORDS", "hint"]

#: Bare-string errors (401, 429) carry no message of their own.
_MESSAGES = {
    "invalid_token": "the access token is missing, invalid, expired or revoked",
    "tooManyRequests": "too many requests for this company",
}
_SCOPES = (
    "integrations:bulk, bulkOperations:read and integrations:write"
    " (integrations:read to find an integration that exists already)"
)
_HINTS = {
    "invalid_token": "check client_id and client_secret; a freshly issued token was refused too",
    "invalid_scope": f"give the API credentials the scopes {_SCOPES}",
    "integrationNotFound": "check integration_id",
    "inputTooLong": "lower batch_size: 360Learning takes 10,000 courses per upsert, 1,000 per archive",
    "groupNotFound": "check integration.group_id",
    "userNotFound": "check integration.author_id",
}


def _read(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return code, str(error.get("message") or code or response.reason_phrase)
    code = error if isinstance(error, str) else None
    return code, _MESSAGES.get(code or "", code or response.reason_phrase)


def hint(exc: ProviderError, *, created: bool = False) -> str | None:
    """The advice for ``exc``; ``created``: coursesync created the connection's integration."""
    if exc.code == "integrationNotFound" and created:
        return "the integration coursesync created is gone; the next sync creates it again"
    return _HINTS.get(exc.code or "")


WORDS = ErrorWords(
    read=_read,
    hint=hint,
    concurrency_codes=frozenset({"bulkOperationsConcurrencyLimitReached"}),
)


def _read_token_error(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    code = body.get("error") if isinstance(body, dict) else None
    code = code if isinstance(code, str) else None
    return code, f"the token request was refused ({code or response.reason_phrase})"


def _token_hint(exc: ProviderError) -> str | None:
    refused = isinstance(exc, AuthError) or exc.code in ("invalid_client", "invalid_request")
    return "check client_id and client_secret" if refused else None


#: The token endpoint's errors: OAuth's bare ``{"error": code}``.
TOKEN_WORDS = ErrorWords(read=_read_token_error, hint=_token_hint)
