"""Kombo's unified LMS API: ``POST /lms/courses/bulk`` and ``GET /lms/courses/bulk/{task_id}``.

Kombo asks clients to branch on ``error.code`` rather than on the HTTP status (it moved codes
between statuses before), so the code table below decides first and the status only where the
code is unknown. Item results are correlated by ``origin_id``, which is our item id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import redis

from workers import keys
from workers.connections import Connection
from workers.errors import (
    AuthError,
    ConcurrencyLimited,
    NotFound,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.http import dumps, error_for_status, json_body, map_errors, retry_after_s
from workers.targets import current_target

__all__ = ["KomboProvider"]

#: Codes whose meaning does not depend on the HTTP status they arrive with.
_CODE_CLASSES: dict[str, type[ProviderError]] = {
    "PLATFORM.RATE_LIMIT_EXCEEDED": RateLimited,
    "REMOTE.RATE_LIMIT_EXCEEDED": RateLimited,
    "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED": ConcurrencyLimited,
    "REMOTE.SERVICE_UNAVAILABLE": ProviderUnavailable,
    "PLATFORM.AUTHENTICATION_INVALID": AuthError,
    "PLATFORM.IP_NOT_WHITELISTED": AuthError,
    "INTEGRATION.AUTHENTICATION_INVALID": AuthError,
    "INTEGRATION.PERMISSION_MISSING": AuthError,
    "PLATFORM.INTEGRATION_NOT_FOUND": NotFound,
    "PLATFORM.INPUT_INVALID": ProviderRejected,
    "REMOTE.INPUT_INVALID": ProviderRejected,
}

_HINTS = {
    AuthError: "check api_key (and the scope's 'Upsert courses' permission)",
    NotFound: "check integration_id",
}


class KomboProvider:
    """Kombo bulk course upserts for one connection."""

    name = "kombo"
    #: The same body returns the same task (kept byte-identical on resends), and upserts are
    #: keyed by origin_id: a second send makes neither a second task nor a second effect.
    resend_safe = True

    def __init__(self, connection: Connection, http: httpx.Client, kv: redis.Redis) -> None:
        self._conn = connection
        self._http = http
        self._kv = kv

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._conn.secret('api_key')}",
            "X-Integration-Id": str(self._conn.option("integration_id")),
            "Content-Type": "application/json",
        }

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        url = self._conn.base_url + path
        with map_errors(self.name, self._conn.name, url):
            content = dumps(body) if body is not None else None
            response = self._http.request(method, url, headers=self._headers(), content=content)
        if response.is_success:
            return json_body(response)
        raise self._error(response)

    def _error(self, response: httpx.Response) -> ProviderError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        message = str(error.get("message") or error.get("title") or response.reason_phrase)
        exc = error_for_status(
            response,
            provider=self.name,
            connection=self._conn.name,
            code=code,
            message=message,
            concurrency_codes=frozenset({"PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"}),
        )
        cls = _CODE_CLASSES.get(code or "")
        if cls is not None and not isinstance(exc, cls):
            kw: dict[str, Any] = {
                "provider": exc.provider,
                "connection": exc.connection,
                "status_code": exc.status_code,
                "code": code,
                "url": exc.url,
            }
            if issubclass(cls, RateLimited | ConcurrencyLimited | ProviderUnavailable):
                kw["retry_after_s"] = retry_after_s(response.headers)
            exc = cls(message, **kw)
        hint = next((h for k, h in _HINTS.items() if isinstance(exc, k)), None)
        if hint:
            exc.message = f"{exc.message} (connection {self._conn.name!r}: {hint})"
        return exc

    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        if op == "deactivate":
            return Submission(job_ref=None, results=tuple(self._deactivate(item.id) for item in items))
        body = self._request("POST", "/lms/courses/bulk", {"items": [i.payload for i in items]})
        try:
            task_id = body["data"]["task_id"]
        except (TypeError, KeyError):
            raise ProviderUnavailable(
                "Kombo answered 200 without data.task_id",
                provider=self.name,
                connection=self._conn.name,
            ) from None
        return Submission(job_ref=str(task_id))

    def _deactivate(self, item_id: str) -> ItemResult:
        """``POST /lms/courses/{kombo id}/deactivate``; the Kombo id came with the upsert's result."""
        # The Kombo id of the integration this request goes to, never one another integration gave.
        target = current_target(self._kv, self._conn).id
        found = self._kv.hget(keys.remote_ids(target, keys.item_bucket(item_id)), item_id)
        kombo_id = found.decode() if isinstance(found, bytes) else found
        if kombo_id is None:
            return ItemResult(
                item_id,
                ok=False,
                code="coursesync.UNKNOWN_COURSE",
                message="Kombo never confirmed this course to coursesync, so there is no Kombo id "
                "to deactivate",
            )
        try:
            self._request("POST", f"/lms/courses/{kombo_id}/deactivate", {})
        except NotFound as exc:
            return ItemResult(item_id, ok=False, code=exc.code or "NOT_FOUND", message=exc.message)
        return ItemResult(item_id, ok=True, remote_id=str(kombo_id))

    def poll(self, job_ref: str) -> JobStatus:
        body = self._request("GET", f"/lms/courses/bulk/{job_ref}")
        task = body.get("data") if isinstance(body, dict) else None
        if not isinstance(task, dict):
            raise ProviderUnavailable(
                "Kombo task status without data", provider=self.name, connection=self._conn.name
            )
        status = task.get("status")
        if status == "COMPLETED":
            return JobStatus("done", results=tuple(_item_result(r) for r in task.get("data") or []))
        if status == "FAILED":
            error = task.get("error") or {}
            return JobStatus("failed", code=error.get("code"), reason=error.get("message") or "task failed")
        return JobStatus("pending")


def _item_result(raw: dict[str, Any]) -> ItemResult:
    origin_id = str(raw.get("origin_id"))
    if raw.get("status") == "SUCCEEDED":
        data = raw.get("data") or {}
        return ItemResult(origin_id, ok=True, remote_id=data.get("id"))
    error = raw.get("error") or {}
    return ItemResult(
        origin_id,
        ok=False,
        code=error.get("code") or "UNKNOWN",
        message=error.get("message") or error.get("title") or "the provider reported a failure",
    )
