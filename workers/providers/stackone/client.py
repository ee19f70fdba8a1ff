"""StackOne's unified LMS API: ``POST /unified/lms/content/batch`` (providers.md §2).

StackOne answers a batch at once, 202 with ``errors``: one list of validation messages per item,
in request order. It has no job id and no status endpoint, so ``submit`` settles every item and
returns no ``job_ref``; nothing is ever polled. An item with no errors counts as succeeded,
which means StackOne accepted it, not that the LMS behind it has it yet.

Only the documented shape proves anything (``batch_results``): a 202 ``BatchResultApiModel``
whose ``errors`` is either one list of strings per item (an empty one: that item accepted) or
an empty list with the rest of the model intact (no errors at all: every item accepted).
Anything else is ``UnverifiedAnswer``; StackOne has no job to duplicate, so the batch may be
sent again (``resend_safe``).

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
from workers.errors import PermanentError, ProviderError, UnverifiedAnswer
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.http import dumps, error_for_status, json_body, map_errors

__all__ = ["BATCH_PATH", "ITEM_REJECTED", "StackOneProvider", "batch_results"]

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


def batch_results(status: int, body: Any, items: Sequence[OutboundItem]) -> tuple[ItemResult, ...]:
    """One result per item from a 2xx answer to the batch upsert.

    Raises:
        ValueError: the answer is not the documented 202 ``BatchResultApiModel`` with one error
            list per item (or none at all); the message says what is wrong.
    """
    if status != 202:
        raise ValueError(f"HTTP {status}, not the documented 202")
    if not isinstance(body, dict):
        raise ValueError(f"the body is not a JSON object: {_raw(body)}")
    code = body.get("statusCode")
    if code is not None and (isinstance(code, bool) or code != status):
        raise ValueError(f"statusCode {_raw(code)} disagrees with HTTP {status}")
    errors = body.get("errors")
    if not isinstance(errors, list):
        raise ValueError(f"errors is not a list: {_raw(errors)}")
    if not errors:
        # No per-item lists: the claim covers every item, so the whole model must be there.
        missing = [k for k in ("statusCode", "message", "timestamp") if k not in body or body[k] is None]
        if missing or not isinstance(body["message"], str) or not isinstance(body["timestamp"], str):
            raise ValueError(f"errors is empty but the rest of the model is not intact: {_raw(body)}")
        return tuple(ItemResult(item.id, ok=True) for item in items)
    if len(errors) != len(items):
        raise ValueError(f"{len(errors)} error lists for {len(items)} items: {_raw(errors)}")
    if not all(isinstance(e, list) and all(isinstance(m, str) for m in e) for e in errors):
        raise ValueError(f"errors is not one list of strings per item: {_raw(errors)}")
    return tuple(
        ItemResult(item.id, ok=False, code=ITEM_REJECTED, message=_joined(messages))
        if messages
        else ItemResult(item.id, ok=True)
        for item, messages in zip(items, errors, strict=True)
    )


def _raw(value: Any) -> str:
    return repr(value)[:_RAW_CHARS]


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
