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
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis

from workers.connections import Connection
from workers.errors import NotFound, PermanentError, UnverifiedAnswer
from workers.providers.base import JobStatus, Op, OutboundItem, Submission
from workers.providers.http import json_body
from workers.providers.json_api import JsonClient
from workers.providers.learning360.answers import item_result, shown
from workers.providers.learning360.auth import TokenCache
from workers.providers.learning360.errors import WORDS, hint
from workers.providers.learning360.integration import Integrations

__all__ = ["Learning360Provider"]

API_VERSION = "v2.0"
JSON = "application/json"
_PENDING = frozenset({"pending", "queued", "running"})


class Learning360Provider(JsonClient):
    """360Learning bulk external-course upserts and archives for one connection."""

    name = "360learning"
    words = WORDS
    #: A second PUT starts a second bulk operation (and takes a second of the 3 slots).
    resend_safe = False

    def __init__(self, connection: Connection, http: httpx.Client, kv: redis.Redis) -> None:
        super().__init__(connection, http, kv)
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

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "360-api-version": API_VERSION,
            "Accept": "application/json",
        }

    def _call(self, method: str, ref: str, body: Any = None) -> httpx.Response:
        """One authenticated v2 call; a 2xx response, else the error it means."""
        url = self._url(ref)
        token = self._tokens.get()
        response = self._api.exchange(method, url, body, self._headers(token))
        if response.status_code == 401:  # expired or revoked early: one new token, one more try
            response = self._api.exchange(method, url, body, self._headers(self._tokens.refresh(token)))
        return self._api.checked(response, partial(hint, created=self._integrations.created))

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
            raise self._unverified(f"the bulk operation has an unknown status {shown(status)}", job_ref)
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
            return JobStatus("done", results=tuple(r for r in map(item_result, results) if r is not None))
        if status == "error":
            return failed
        raise self._unverified(f"the bulk operation's results are not a list: {shown(results)}", job_ref)

    def _unverified(self, message: str, url: str) -> UnverifiedAnswer:
        return UnverifiedAnswer(
            f"360Learning: {message}", provider=self.name, connection=self._conn.name, url=url
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
