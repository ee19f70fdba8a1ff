"""How Kombo words its errors: the code table, and the advice each error gets.

Kombo asks clients to branch on ``error.code`` rather than on the HTTP status (it moved codes
between statuses before; providers.md §1.5), so every code its spec lists for the course
endpoints is decided once, in ``CODES``: the class chosen by status gives way to the code's, and
a transient code without a readable hint waits its own default time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx

from workers.errors import (
    AuthError,
    ConcurrencyLimited,
    NotFound,
    PermanentError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    TransientError,
)
from workers.providers.http import retry_after_s
from workers.providers.json_api import ErrorWords

__all__ = ["CODES", "WORDS", "Code", "code_class"]


class Code(NamedTuple):
    cls: type[ProviderError]
    #: Seconds to wait before sending again when Kombo gives no hint (transient codes only).
    wait_s: float | None
    why: str


#: Every code of Kombo's error enums that a course endpoint can return. Transient classes mean
#: "send the same request again later"; a task that ends FAILED with one is sent again.
CODES: dict[str, Code] = {
    # --- transient
    "PLATFORM.RATE_LIMIT_EXCEEDED": Code(RateLimited, None, "Kombo's quota; documented as retryable [K8]"),
    "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED": Code(ConcurrencyLimited, None, "too many actions in flight [K6]"),
    "REMOTE.RATE_LIMIT_EXCEEDED": Code(RateLimited, None, "the LMS's quota; documented as retryable [K8]"),
    "REMOTE.SERVICE_UNAVAILABLE": Code(ProviderUnavailable, None, "the LMS is down; retryable [K8]"),
    "PLATFORM.TASK_TIMED_OUT": Code(
        ProviderUnavailable, None, "Kombo gave up on a slow task; nothing was done"
    ),
    "PLATFORM.UNKNOWN_ERROR": Code(ProviderUnavailable, None, "Kombo's own failure, not our input's"),
    "INTEGRATION.SETUP_SYNC_PENDING": Code(
        ProviderUnavailable, 60.0, "the first sync still runs and ends by itself; it takes minutes"
    ),
    # --- permanent: a person must change something
    "PLATFORM.AUTHENTICATION_INVALID": Code(AuthError, None, "our API key is wrong"),
    "PLATFORM.IP_NOT_WHITELISTED": Code(AuthError, None, "our address is not allowed for the key"),
    "INTEGRATION.AUTHENTICATION_INVALID": Code(AuthError, None, "the customer's LMS credentials are wrong"),
    "INTEGRATION.PERMISSION_MISSING": Code(AuthError, None, "the LMS account lacks a permission"),
    "PLATFORM.INTEGRATION_NOT_FOUND": Code(NotFound, None, "integration_id names no integration"),
    "PLATFORM.INPUT_INVALID": Code(
        ProviderRejected, None, "our body breaks Kombo's schema; retry after a fix"
    ),
    "REMOTE.INPUT_INVALID": Code(ProviderRejected, None, "the LMS refused the data; retry after a fix"),
    "LMS.COURSE_UPDATE_NOT_SUPPORTED": Code(ProviderRejected, None, "the LMS cannot update a course"),
    "REMOTE.UNKNOWN_HTTP_ERROR": Code(
        PermanentError, None, "not on Kombo's retryable list [K8]; may be our data; next sync resends"
    ),
    "INTEGRATION.QA_FAILED": Code(PermanentError, None, "the integration failed Kombo's QA; 409 since 2026"),
    "INTEGRATION.SETUP_INCOMPLETE": Code(PermanentError, None, "the customer must finish the setup"),
    "INTEGRATION.INACTIVE": Code(PermanentError, None, "the integration was deactivated"),
    "INTEGRATION.MODEL_NOT_AVAILABLE": Code(PermanentError, None, "the LMS has no courses model"),
    "INTEGRATION.MODEL_DISABLED": Code(PermanentError, None, "courses are disabled in the scope config"),
    "INTEGRATION.ACTION_NOT_AVAILABLE": Code(PermanentError, None, "the LMS cannot upsert courses"),
    "INTEGRATION.ACTION_DISABLED": Code(PermanentError, None, "'Upsert courses' is off in the scope config"),
}

_HINTS = {
    AuthError: "check api_key (and the scope's 'Upsert courses' permission)",
    NotFound: "check integration_id",
}


def code_class(code: str | None) -> type[ProviderError] | None:
    """The class ``code`` means whatever the HTTP status, or None for an unknown code."""
    found = CODES.get(code) if isinstance(code, str) else None
    return found.cls if found else None


def _read(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    """``{"status": "error", "error": {"code", "title", "message"}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    return code, str(error.get("message") or error.get("title") or response.reason_phrase)


def _refine(exc: ProviderError, response: httpx.Response, body: Any) -> ProviderError:
    """The code's class wins over the status's; a transient code's own wait when no hint came."""
    code = exc.code
    cls = code_class(code)
    if cls is not None and type(exc) is not cls:
        kw: dict[str, Any] = {
            "provider": exc.provider,
            "connection": exc.connection,
            "status_code": exc.status_code,
            "code": code,
            "url": exc.url,
        }
        if issubclass(cls, TransientError):
            kw["retry_after_s"] = retry_after_s(response.headers)
        exc = cls(exc.message, **kw)
    if isinstance(exc, TransientError) and exc.retry_after_s is None and code in CODES:
        exc.retry_after_s = CODES[code].wait_s  # the code's own default wait, if any
    return exc


def _hint(exc: ProviderError) -> str | None:
    return next((hint for cls, hint in _HINTS.items() if isinstance(exc, cls)), None)


WORDS = ErrorWords(
    read=_read,
    hint=_hint,
    concurrency_codes=frozenset({"PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"}),
    refine=_refine,
)
