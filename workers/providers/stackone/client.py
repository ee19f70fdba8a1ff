"""StackOne's unified LMS API: ``POST /unified/lms/content/batch`` (providers.md §2).

StackOne answers a batch at once, 202 with ``errors``: one list of validation messages per item,
in request order. It has no job id and no status endpoint, so ``submit`` settles every item and
returns no ``job_ref``; nothing is ever polled. An item with no errors counts as succeeded,
which means StackOne accepted it, not that the LMS behind it has it yet.

Only the documented shape proves anything (``answers.batch_results``); anything else is
``UnverifiedAnswer``, and as StackOne has no job to duplicate, the batch may be sent again
(``resend_safe``). Its errors carry no code of their own: the status decides (``errors``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from workers.errors import PermanentError, UnverifiedAnswer
from workers.providers.base import JobStatus, Op, OutboundItem, Submission
from workers.providers.http import json_body
from workers.providers.json_api import JsonClient
from workers.providers.stackone.answers import batch_results
from workers.providers.stackone.errors import WORDS

__all__ = ["BATCH_PATH", "StackOneProvider"]

BATCH_PATH = "/unified/lms/content/batch"


class StackOneProvider(JsonClient):
    """StackOne batch content upserts for one connection (it keeps no fleet-wide state)."""

    name = "stackone"
    words = WORDS
    #: No remote job exists, and upserts are keyed by external_reference.
    resend_safe = True

    def _headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{self._conn.secret('api_key')}:".encode()).decode()
        return {
            "Authorization": f"Basic {token}",
            "x-account-id": str(self._conn.option("account_id")),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        """Upsert ``items``; both ops post the same way (deactivation is ``active: false``)."""
        url = self._conn.base_url + BATCH_PATH
        body = {"items": [item.payload for item in items]}
        response = self._api.checked(self._api.exchange("POST", url, body, self._headers()))
        try:
            results = batch_results(response.status_code, json_body(response), items)
        except ValueError as exc:
            raise UnverifiedAnswer(
                f"StackOne's answer cannot be read as a batch result: {exc}",
                provider=self.name,
                connection=self._conn.name,
                status_code=response.status_code,
                url=url,
            ) from None
        return Submission(job_ref=None, results=results)

    def poll(self, job_ref: str) -> JobStatus:
        """Never called: ``submit`` returns no job_ref because StackOne has no job to poll."""
        raise PermanentError(
            f"StackOne has no batch job or status endpoint, so there is nothing to poll "
            f"(job_ref {job_ref!r}); submit settles every item",
            provider=self.name,
            connection=self._conn.name,
        )
