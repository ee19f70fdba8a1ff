"""Reading StackOne's answer to a batch: one result per item, or nothing proven.

Only the documented shape proves anything: a 202 ``BatchResultApiModel`` whose ``errors`` is
either one list of strings per item (an empty one: that item accepted) or an empty list with
the rest of the model intact (no errors at all: every item accepted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.providers.base import ItemResult, OutboundItem

__all__ = ["ITEM_REJECTED", "batch_results"]

#: Code of an item StackOne listed errors for (StackOne gives them no code of its own).
ITEM_REJECTED = "stackone.ITEM_REJECTED"
#: Characters of a provider's raw answer kept in a message.
RAW_CHARS = 300


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
    return repr(value)[:RAW_CHARS]


def _joined(messages: Any) -> str:
    return "; ".join(str(m) for m in messages)
