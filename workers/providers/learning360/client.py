"""360Learning API v2: bulk upsert and archive of external courses (providers.md §3).

``PUT`` (upsert) or ``DELETE`` (archive) ``/api/v2/bulk/integrations/{id}/courses`` answers 202
with a ``Location``: the bulk operation, which is the job reference. ``poll`` reads it until it
is ``completed`` or ``error``, then reads ``{location}/results`` and maps each result back by
``input.externalId``, which is our item id: only an entry with ``status: "success"`` and a string
``input.externalId`` proves its course succeeded; an entry naming no externalId is skipped (the
core fails items without a result), and an operation or result list that cannot be read is
``UnverifiedAnswer``. Every call carries a Bearer token (shared by the
fleet, see ``auth``) and ``360-api-version: v2.0``; a 401 refreshes the token once
and repeats the call once. The token only ever goes to ``base_url``'s own origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis

from workers.connections import Connection
from workers.errors import UNVERIFIED, NotFound, PermanentError, ProviderError, UnverifiedAnswer
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.http import dumps, error_for_status, json_body, map_errors
from workers.providers.learning360.auth import TokenCache
from workers.providers.learning360.integration import Integrations

__all__ = ["Learning360Provider"]

API_VERSION = "v2.0"
_PENDING = frozenset({"pending", "queued", "running"})
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


class Learning360Provider:
    """360Learning bulk external-course upserts and archives for one connection."""

    name = "360learning"
    #: A second PUT starts a second bulk operation (and takes a second of the 3 slots).
    resend_safe = False

    def __init__(self, connection: Connection, http: httpx.Client, kv: redis.Redis) -> None:
        self._conn = connection
        self._http = http
        self._tokens = TokenCache(connection, http, kv)
        lock_s = (http.timeout.read or 30.0) * 2 + 5.0  # a creation and a lookup, and a margin
        self._integrations = Integrations(connection, kv, self._call, lock_s=lock_s)
        self._origin = _origin(connection.base_url)

    # --- HTTP
    def _url(self, ref: str) -> str:
        """``ref`` (a documented path, a Location or a Link) as an absolute URL on ``base_url``.

        A path is appended to ``base_url`` (whose own path, e.g. a proxy prefix, is kept unless
        ``ref`` already starts with it), as product.md says of relative Locations.

        Raises:
            PermanentError: ``ref`` points at another origin, where the token must not go.
        """
        base = self._conn.base_url
        if urlsplit(ref).scheme:
            url = ref
        elif ref.startswith("/"):
            prefix = urlsplit(base).path.rstrip("/")
            url = self._origin + ref if prefix and ref.startswith(prefix + "/") else base + ref
        else:
            url = f"{base}/{ref}"
        if _origin(url) != self._origin:
            raise PermanentError(
                f"360Learning pointed at {_origin(url)!r}, not base_url's {self._origin!r}; the token is "
                f"not sent elsewhere (connection {self._conn.name!r}: check base_url)",
                provider=self.name,
                connection=self._conn.name,
                url=url,
            )
        return url

    def _send(self, method: str, url: str, content: bytes | None, token: str) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "360-api-version": API_VERSION,
            "Accept": "application/json",
        }
        if content is not None:
            headers["Content-Type"] = "application/json"
        with map_errors(self.name, self._conn.name, url):
            return self._http.request(method, url, headers=headers, content=content)

    def _call(self, method: str, ref: str, body: Any = None) -> httpx.Response:
        """One authenticated v2 call; a 2xx response, else the error it means."""
        url = self._url(ref)
        content = dumps(body) if body is not None else None
        token = self._tokens.get()
        response = self._send(method, url, content, token)
        if response.status_code == 401:  # expired or revoked early: one new token, one more try
            response = self._send(method, url, content, self._tokens.refresh(token))
        if response.is_success:
            return response
        raise self._error(response)

    def _error(self, response: httpx.Response) -> ProviderError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            message = str(error.get("message") or code or response.reason_phrase)
        else:
            code = error if isinstance(error, str) else None
            message = _MESSAGES.get(code or "", code or response.reason_phrase)
        exc = error_for_status(
            response,
            provider=self.name,
            connection=self._conn.name,
            code=code,
            message=message,
            concurrency_codes=frozenset({"bulkOperationsConcurrencyLimitReached"}),
        )
        hint = _HINTS.get(code or "")
        if code == "integrationNotFound" and self._integrations.created:
            hint = "the integration coursesync created is gone; the next sync creates it again"
        if hint:
            exc.message = f"{exc.message} (connection {self._conn.name!r}: {hint})"
        return exc

    # --- the Provider protocol
    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        integration = self._integrations.get()
        method = "PUT" if op == "upsert" else "DELETE"
        body = {"input": [item.payload for item in items]}
        try:
            response = self._call(method, f"/api/v2/bulk/integrations/{integration}/courses", body)
        except NotFound as exc:
            if exc.code == "integrationNotFound":
                self._integrations.forget(integration)
            raise
        location = response.headers.get("location")
        try:
            if not location or not location.strip():
                raise ValueError("no Location header")
            job_ref = self._url(location.strip())
        except ValueError as exc:  # missing, or no URL at all (urlsplit refuses e.g. "http://[")
            # An operation may have started that coursesync cannot name.
            raise UnverifiedAnswer(
                f"360Learning answered {response.status_code} without a usable Location ({exc}): "
                f"{location!r}",
                provider=self.name,
                connection=self._conn.name,
                status_code=response.status_code,
            ) from None
        return Submission(job_ref=job_ref)

    def poll(self, job_ref: str) -> JobStatus:
        operation = json_body(self._call("GET", job_ref))
        status = operation.get("status") if isinstance(operation, dict) else None
        if isinstance(status, str) and status in _PENDING:
            progress = operation.get("progress")
            index = progress.get("index") if isinstance(progress, dict) else None
            return JobStatus("pending", detail={"status": status, "index": index})
        if status not in ("completed", "error"):
            raise self._unverified(f"the bulk operation has an unknown status {_raw(status)}", job_ref)
        error = operation.get("errorMessage")
        failed = JobStatus(
            "failed",
            code="bulkOperationError",
            reason=str(error) if error else "the bulk operation ended in error",
        )
        try:
            results = json_body(self._call("GET", job_ref.rstrip("/") + "/results"))
        except PermanentError as exc:
            if exc.code == "bulkOperationNotRun":  # the results lag a moment behind the status
                return JobStatus("pending", detail={"status": status})
            if status == "error":  # what went wrong is all there is to say
                return failed
            raise
        if isinstance(results, list) and (results or status == "completed"):
            return JobStatus("done", results=tuple(r for r in map(_item_result, results) if r is not None))
        if status == "error":
            return failed
        raise self._unverified(f"the bulk operation's results are not a list: {_raw(results)}", job_ref)

    def _unverified(self, message: str, url: str) -> UnverifiedAnswer:
        return UnverifiedAnswer(
            f"360Learning: {message}", provider=self.name, connection=self._conn.name, url=url
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _raw(value: Any) -> str:
    return repr(value)[:300]


def _item_result(raw: Any) -> ItemResult | None:
    """One entry of ``/results``, keyed by its input's externalId (our item id); None if it has none."""
    entry = raw.get("input") if isinstance(raw, dict) else None
    external_id = entry.get("externalId") if isinstance(entry, dict) else None
    if not isinstance(external_id, str):
        return None
    status = raw.get("status")
    if status == "success":
        resource = raw.get("resourceId")
        return ItemResult(
            external_id, ok=True, remote_id=resource if isinstance(resource, str) and resource else None
        )
    if status == "error":
        message = raw.get("errorMessage")
        text = str(message) if message else "360Learning reported an error for this course"
        return ItemResult(external_id, ok=False, code="itemError", message=text)
    why = f"360Learning's result for this course has an unknown status {_raw(status)}: {_raw(raw)}"
    return ItemResult(external_id, ok=False, code=UNVERIFIED, message=why)
