"""StackOne's unified LMS API: ``POST /unified/lms/content/batch`` (providers.md §2).

StackOne answers a batch at once, 202 with ``errors``: one list of validation messages per item,
in request order. It has no job id and no status endpoint, so ``submit`` settles every item and
returns no ``job_ref``; nothing is ever polled. An item with no errors counts as succeeded,
which means StackOne accepted it, not that the LMS behind it has it yet.

Errors come as ``{statusCode, message, timestamp, data?, provider_errors?}`` without a code of
their own, so the HTTP status decides (``error_for_status``); 412 (disabled or suspended
account) and 501 (not implemented for this LMS) are permanent.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import httpx
import redis

from workers.connections import Connection
from workers.errors import PermanentError, ProviderError, ProviderUnavailable
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.http import dumps, error_for_status, json_body, map_errors

__all__ = ["BATCH_PATH", "ITEM_REJECTED", "StackOneProvider"]

BATCH_PATH = "/unified/lms/content/batch"
#: Code of an item StackOne listed errors for (StackOne gives them no code of its own).
ITEM_REJECTED = "stackone.ITEM_REJECTED"
#: Characters of a provider's raw error kept in a message.
_RAW_CHARS = 300

_HINTS = {
    401: "check api_key (StackOne's API key, sent as the Basic auth user with an empty password)",
    403: "the API key lacks the scope; use a Full Access key, not a Read Only one",
    404: "check account_id (the linked account id sent as x-account-id)",
    412: "the linked account of account_id is disabled, suspended or expired; re-link it in StackOne",
    501: "StackOne cannot upsert content into the LMS behind account_id",
}


class StackOneProvider:
    """StackOne batch content upserts for one connection."""

    name = "stackone"
    #: No remote job exists, and upserts are keyed by external_reference.
    resend_safe = True

    def __init__(self, connection: Connection, http: httpx.Client, kv: redis.Redis) -> None:
        self._conn = connection
        self._http = http
        self._kv = kv  # unused: StackOne needs no fleet-wide state

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
        with map_errors(self.name, self._conn.name, url):
            content = dumps({"items": [item.payload for item in items]})
            response = self._http.post(url, headers=self._headers(), content=content)
        if not response.is_success:
            raise self._error(response)
        body = json_body(response)
        if not isinstance(body, dict):
            # Retrying is safe: StackOne upserts by external_reference.
            raise ProviderUnavailable(
                f"StackOne answered {response.status_code} without a JSON body",
                provider=self.name,
                connection=self._conn.name,
                status_code=response.status_code,
                url=url,
            )
        return Submission(job_ref=None, results=self._results(items, body.get("errors"), url))

    def poll(self, job_ref: str) -> JobStatus:
        """Never called: ``submit`` returns no job_ref because StackOne has no job to poll."""
        raise PermanentError(
            f"StackOne has no batch job or status endpoint, so there is nothing to poll "
            f"(job_ref {job_ref!r}); submit settles every item",
            provider=self.name,
            connection=self._conn.name,
        )

    def _results(self, items: Sequence[OutboundItem], errors: Any, url: str) -> tuple[ItemResult, ...]:
        """One result per item from ``errors`` (lists aligned with the items by index)."""
        lists = [] if errors is None else errors
        if not isinstance(lists, list) or not all(isinstance(e, list) for e in lists):
            raise ProviderUnavailable(
                f"StackOne's errors are not a list of lists: {str(errors)[:_RAW_CHARS]}",
                provider=self.name,
                connection=self._conn.name,
                url=url,
            )
        if any(lists) and len(lists) != len(items):
            # Without alignment no error can be pinned on an item; failing them all is visible
            # and `coursesync retry` re-sends them safely (upserts).
            message = (
                f"StackOne returned {len(lists)} error lists for {len(items)} items, so they "
                f"cannot be matched to items: {_joined(m for e in lists for m in e)}"
            )
            return tuple(ItemResult(i.id, ok=False, code=ITEM_REJECTED, message=message) for i in items)
        results = []
        for index, item in enumerate(items):
            messages = lists[index] if index < len(lists) else []
            if messages:
                results.append(ItemResult(item.id, ok=False, code=ITEM_REJECTED, message=_joined(messages)))
            else:
                results.append(ItemResult(item.id, ok=True))
        return tuple(results)

    def _error(self, response: httpx.Response) -> ProviderError:
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or response.reason_phrase or f"HTTP {response.status_code}")
        raw = _provider_detail(body)
        if raw:
            message = f"{message} (the LMS said: {raw})"
        exc = error_for_status(
            response, provider=self.name, connection=self._conn.name, code=None, message=message
        )
        hint = _HINTS.get(response.status_code)
        if hint:
            exc.message = f"{exc.message} (connection {self._conn.name!r}: {hint})"
        return exc


def _joined(messages: Any) -> str:
    return "; ".join(str(m) for m in messages)


def _provider_detail(body: dict[str, Any]) -> str | None:
    """What the LMS behind StackOne answered, from ``provider_errors`` or ``data``, shortened."""
    errors = body.get("provider_errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        raw = first.get("raw")
        text = dumps(raw).decode() if raw is not None else ""
        return f"HTTP {first.get('status')} {text}".strip()[:_RAW_CHARS]
    data = body.get("data")
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:_RAW_CHARS]
    return None
