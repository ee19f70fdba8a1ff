"""One exception tree for coursesync.

::

    CoursesyncError
    ├── ConfigError                 configuration is missing or wrong; the user must fix it (exit 2)
    ├── CatalogError                the catalog as a whole cannot be read (not one bad item)
    ├── RequestTooLarge             a caller sent more in one call than one call may carry
    ├── PayloadError                a task message or stored record does not match its schema
    ├── RunCancelled                the run was cancelled: its producer stops reading
    ├── ConflictError               a write lost to another one (the connection store)
    │   ├── ConnectionExists        create-only, and the name is taken
    │   └── VersionConflict         the stored version is not the one the writer read
    └── ProviderError               a provider call failed; carries provider, connection, url,
        │                           status_code, code (the provider's own error code), message
        ├── TransientError          may succeed later; carries retry_after_s
        │   ├── RateLimited         the provider's request quota is spent (429)
        │   ├── ConcurrencyLimited  too many requests/jobs in flight at the provider (429)
        │   └── ProviderUnavailable 5xx, 408, connect timeouts and connection errors: the
        │       │                   request was not processed
        │       └── AnswerLost      the request went out but no answer came back (read timeout,
        │                           dropped connection): the provider may have acted on it
        ├── UnverifiedAnswer        the provider answered, but coursesync cannot read or attribute
        │                           the answer: what the provider did is unknown
        └── PermanentError          retrying the same request cannot help
            ├── AuthError           401/403: credentials or scopes are wrong
            ├── NotFound            unknown integration, account or job
            └── ProviderRejected    the provider refused the request as invalid (400/413/422)

Retry code dispatches on the class alone (see ``workers.retry``). Foreign exceptions
(``httpx.*``) are translated into this tree in exactly one place per provider
(``workers.providers.http.map_errors``); nothing above the provider layer sees them.

``AnswerLost`` and ``UnverifiedAnswer`` are the two *ambiguous* outcomes of a submission: the
provider may have started a remote job that coursesync cannot name. A batch is sent again
after them only when its provider is ``resend_safe`` (a second send cannot make a second job or
effect); otherwise its items fail with ``UNVERIFIED`` and the next sync sends them again.
"""

from __future__ import annotations

__all__ = [
    "UNVERIFIED",
    "AnswerLost",
    "AuthError",
    "CatalogError",
    "ConcurrencyLimited",
    "ConfigError",
    "ConflictError",
    "ConnectionExists",
    "CoursesyncError",
    "NotFound",
    "PayloadError",
    "PermanentError",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "RateLimited",
    "RequestTooLarge",
    "RunCancelled",
    "TransientError",
    "UnverifiedAnswer",
    "VersionConflict",
]

#: The code of an item coursesync cannot prove succeeded: the provider's answer could not be
#: read or attributed to it, or a request's fate is unknown. Never a success; no digest is kept,
#: so the next sync sends the item again.
UNVERIFIED = "coursesync.UNVERIFIED"


class CoursesyncError(Exception):
    """Root of every error coursesync raises on purpose."""


class ConfigError(CoursesyncError):
    """The configuration file or environment is missing something or holds a wrong value."""


class CatalogError(CoursesyncError):
    """The catalog cannot be read at all (missing file, bad header, wrong format)."""


class RequestTooLarge(CoursesyncError):
    """One call carried more than it may (``producers.changes``: changes per call); the caller
    splits it. Nothing of the call was accepted."""


class PayloadError(CoursesyncError):
    """A task message or stored record does not match its schema. Never retried."""


class RunCancelled(CoursesyncError):
    """The run was cancelled (`coursesync cancel`): its producer stops reading and seals it."""


class ConflictError(CoursesyncError):
    """A write refused because the stored state is not what the writer expected (HTTP 409)."""


class ConnectionExists(ConflictError):
    """``put_connection(create_only=True)`` for a name that is already stored."""


class VersionConflict(ConflictError):
    """``put_connection(expected_version=...)`` but another writer changed it (or deleted it)."""


class ProviderError(CoursesyncError):
    """A call to a provider's API failed.

    Parameters
    ----------
    message:
        What went wrong, in the provider's words where it gave any.
    provider, connection:
        Which provider module and which configured connection made the call.
    status_code:
        The HTTP status, or None when no response arrived.
    code:
        The provider's own error code (``PLATFORM.RATE_LIMIT_EXCEEDED``, ``invalidInput``...).
    url:
        The request URL, never with credentials.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        connection: str = "",
        status_code: int | None = None,
        code: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.connection = connection
        self.status_code = status_code
        self.code = code
        self.url = url

    @property
    def reason(self) -> str:
        """A one-line explanation for run documents and logs."""
        parts = [self.provider] if self.provider else []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        elif self.provider:
            parts.append("no response")
        if self.code:
            parts.append(self.code)
        return f"{' '.join(parts)}: {self.message}" if parts else self.message

    def __str__(self) -> str:
        return self.reason


class TransientError(ProviderError):
    """The same request may succeed later.

    ``retry_after_s`` is the provider's own hint (Retry-After, ratelimit-reset) in seconds, or
    None when it gave none and computed backoff should decide.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s


class RateLimited(TransientError):
    """The provider's request quota for this account is spent."""


class ConcurrencyLimited(TransientError):
    """Too many requests or bulk jobs are in flight at the provider for this account."""


class ProviderUnavailable(TransientError):
    """Server error, request timeout or network failure."""


class AnswerLost(ProviderUnavailable):
    """The request was sent but no answer came back: the provider may have acted on it."""


class UnverifiedAnswer(ProviderError):
    """The provider answered, but its answer cannot be read or attributed to our items.

    Nothing in it counts as a success. Carries ``UNVERIFIED`` as its code unless given another.
    """

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("code", UNVERIFIED)
        super().__init__(message, **kw)  # type: ignore[arg-type]


class PermanentError(ProviderError):
    """Retrying the same request cannot help; a person must change something."""


class AuthError(PermanentError):
    """Credentials are wrong, expired or lack a scope."""


class NotFound(PermanentError):
    """The integration, account or remote job does not exist."""


class ProviderRejected(PermanentError):
    """The provider refused the request as invalid."""
