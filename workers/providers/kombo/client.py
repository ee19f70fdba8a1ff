"""Kombo's unified LMS API: ``POST /lms/courses/bulk`` and ``GET /lms/courses/bulk/{task_id}``.

Kombo asks clients to branch on ``error.code`` rather than on the HTTP status, so its code
table (``errors``) decides first and the status only where the code is unknown. Item results
are correlated by ``origin_id``, which is our item id. What an answer proves is read in
``answers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers import keys
from workers.errors import NotFound
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.json_api import JsonClient
from workers.providers.kombo import answers
from workers.providers.kombo.errors import WORDS
from workers.targets import current_target

__all__ = ["KomboProvider"]


class KomboProvider(JsonClient):
    """Kombo bulk course upserts for one connection."""

    name = "kombo"
    words = WORDS
    #: The same body returns the same task (kept byte-identical on resends), and upserts are
    #: keyed by origin_id: a second send makes neither a second task nor a second effect.
    resend_safe = True

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._conn.secret('api_key')}",
            "X-Integration-Id": str(self._conn.option("integration_id")),
            "Content-Type": "application/json",
        }

    def _request(self, method: str, path: str, body: Any = None) -> tuple[Any, str]:
        """The JSON of a 2xx answer (None if it has none) and the URL; else the error it means."""
        url = self._conn.base_url + path
        return self._api.call(method, url, body, self._headers()), url

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
