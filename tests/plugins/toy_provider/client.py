"""The toy LMS's bulk API: ``POST /items`` answers 202 with a job, ``GET /jobs/{id}`` its results.

Built on the shared plumbing (``JsonClient``): the client only says how the toy words its
errors and reads its two answers, trusting nothing it cannot attribute to an item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from workers.errors import UnverifiedAnswer
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.json_api import ErrorWords, JsonClient

__all__ = ["ToyProvider"]


def _read_error(body: Any, response: httpx.Response) -> tuple[str | None, str]:
    error = body.get("error") if isinstance(body, dict) else None
    return None, str(error or response.reason_phrase)


class ToyProvider(JsonClient):
    name = "toy"
    words = ErrorWords(read=_read_error)
    #: The toy LMS answers the same body with the same job, and keys items by id.
    resend_safe = True

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._conn.secret('token')}"}

    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        body = {"items": [item.payload for item in items]}
        answer = self._api.call("POST", self._conn.base_url + "/items", body, self._headers())
        job = answer.get("job") if isinstance(answer, dict) else None
        if not isinstance(job, str) or not job:
            raise self._unverified(f"no job in {answer!r:.200}")
        return Submission(job_ref=job)

    def poll(self, job_ref: str) -> JobStatus:
        answer = self._api.call("GET", f"{self._conn.base_url}/jobs/{job_ref}", headers=self._headers())
        state = answer.get("state") if isinstance(answer, dict) else None
        if state == "pending":
            return JobStatus("pending")
        results = answer.get("results") if state == "done" else None
        if not isinstance(results, list):
            raise self._unverified(f"job {job_ref} answered {answer!r:.200}")
        return JobStatus("done", results=tuple(r for r in map(_result, results) if r is not None))

    def _unverified(self, what: str) -> UnverifiedAnswer:
        return UnverifiedAnswer(f"the toy LMS: {what}", provider=self.name, connection=self._conn.name)


def _result(entry: Any) -> ItemResult | None:
    """One result; None when it names no item (the core fails items left without one)."""
    item_id = entry.get("id") if isinstance(entry, dict) else None
    if not isinstance(item_id, str):
        return None
    if entry.get("ok") is True:
        return ItemResult(item_id, ok=True)
    return ItemResult(item_id, ok=False, code="TOY_REFUSED", message=str(entry.get("reason") or "refused"))
