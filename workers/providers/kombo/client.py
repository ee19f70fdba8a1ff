"""Kombo's unified LMS API: ``POST /lms/courses/bulk`` and ``GET /lms/courses/bulk/{task_id}``.

Kombo asks clients to branch on ``error.code`` rather than on the HTTP status (it moved codes
between statuses before), so the code table below decides first and the status only where the
code is unknown. Item results are correlated by ``origin_id``, which is our item id. What an
answer proves is read in ``answers`` (the code table lives there too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import redis

from workers import keys
from workers.connections import Connection
from workers.errors import AuthError, NotFound, ProviderError, TransientError
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.http import dumps, error_for_status, json_body, map_errors, retry_after_s
from workers.providers.kombo import answers
from workers.targets import current_target

__all__ = ["KomboProvider"]

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

    def _request(self, method: str, path: str, body: Any = None) -> tuple[Any, str]:
        """The JSON of a 2xx answer (None if it has none) and the URL; else the error it means."""
        url = self._conn.base_url + path
        with map_errors(self.name, self._conn.name, url):
            content = dumps(body) if body is not None else None
            response = self._http.request(method, url, headers=self._headers(), content=content)
        if response.is_success:
            return json_body(response), url
        raise self._error(response)

    def _error(self, response: httpx.Response) -> ProviderError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = str(error.get("message") or error.get("title") or response.reason_phrase)
        exc = error_for_status(
            response,
            provider=self.name,
            connection=self._conn.name,
            code=code,
            message=message,
            concurrency_codes=frozenset({"PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"}),
        )
        cls = answers.code_class(code)
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
            exc = cls(message, **kw)
        if isinstance(exc, TransientError) and exc.retry_after_s is None and code in answers.CODES:
            exc.retry_after_s = answers.CODES[code].wait_s  # the code's own default wait, if any
        hint = next((h for k, h in _HINTS.items() if isinstance(exc, k)), None)
        if hint:
            exc.message = f"{exc.message} (connection {self._conn.name!r}: {hint})"
        return exc

    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        if op == "deactivate":
            return Submission(job_ref=None, results=tuple(self._deactivate(item.id) for item in items))
        body, url = self._request("POST", "/lms/courses/bulk", {"items": [i.payload for i in items]})
        return Submission(job_ref=answers.task_id(body, self._conn.name, url))

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
            body, _ = self._request("POST", f"/lms/courses/{kombo_id}/deactivate", {})
        except NotFound as exc:
            return ItemResult(item_id, ok=False, code=exc.code or "NOT_FOUND", message=exc.message)
        return answers.deactivation(body, item_id, str(kombo_id))

    def poll(self, job_ref: str) -> JobStatus:
        body, url = self._request("GET", f"/lms/courses/bulk/{job_ref}")
        return answers.task_status(body, job_ref, self._conn.name, url)
