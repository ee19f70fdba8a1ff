"""Cancelling a run: the flag that stops its sending, and failing the batches it never sent.

The flag (``cancel_requested`` in the run's hash) is set first, in one step. From then on
``mark_sending.lua`` refuses every batch of the run, so a batch without the ``sending`` mark can
never get one: each such batch is then failed with ``CANCELLED`` (``cancel_batch.lua``), while a
batch already at the provider, or whose request is on its way, is tracked to its real outcome.
The run ends ``cancelled`` once its producer has sealed it and every batch has settled.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from workers import keys, lua
from workers.config import Settings
from workers.ledger.batches import Batch, load_items
from workers.ledger.ending import run_finished
from workers.ledger.reasons import chart_settled
from workers.ledger.runs import ERRORS_MAX, now_iso, run_keys

__all__ = ["CANCELLED", "cancel_batch", "is_cancelled", "request_cancel"]

#: The code of an item of a cancelled run that was never sent (the next sync sends it).
CANCELLED = "coursesync.CANCELLED"
#: What the items of a batch failed by a cancel say.
_NOT_SENT = "the run was cancelled before this batch was sent; it was not sent (sync again to send it)"


def request_cancel(r: redis.Redis, run_id: str) -> str:
    """Raise the run's cancel flag once. Returns ``cancelled`` (the flag is up, now or from an
    earlier call), ``final`` (the run had already ended: nothing changed) or ``missing``."""
    return str(lua.run(r, "cancel_run", [keys.run(run_id)], [now_iso()]))


def is_cancelled(r: redis.Redis, run_id: str) -> bool:
    """Whether ``run_id`` was cancelled (its producer stops reading when it sees this)."""
    return bool(r.hexists(keys.run(run_id), "cancel_requested"))


def cancel_batch(r: redis.Redis, raw_r: redis.Redis, batch: Batch, settings: Settings) -> str | None:
    """Fail ``batch`` of a cancelled run with ``CANCELLED`` if it was never sent, in one step.

    Returns ``sending`` (its request is on its way: left to its worker), None (no longer pending,
    or the run is not cancelled), else ``open`` or the run's final state if this ended it.
    """
    items = load_items(raw_r, batch.id) or []
    triples: list[Any] = []
    errors: list[str] = []
    for item in items:
        err = {"item_id": item.id, "stage": "provider", "code": CANCELLED, "message": _NOT_SENT}
        triples += [item.id, json.dumps([err]), json.dumps([item.id, item.digest, item.payload, batch.op])]
        if len(errors) < ERRORS_MAX:
            errors.append(json.dumps(err))
    if not items:
        # The payload expired: the batch's items still fail, as one record naming how many.
        errors = [json.dumps({"item_id": f"({batch.size} items of batch {batch.id})", "stage": "provider",
                              "code": CANCELLED, "message": _NOT_SENT})]  # fmt: skip
    c = batch.connection
    result = lua.run(
        r,
        "cancel_batch",
        [
            keys.batch(batch.id),
            keys.JOBS_DUE,
            keys.inflight(c),
            keys.batch_items(batch.id),
            *run_keys(batch.run_id, c),
            keys.ready(c),
            keys.ready(c, "low"),
            keys.DEFERRED,
        ],
        [
            now_iso(),
            batch.id,
            settings.run_retention_s,
            ERRORS_MAX,
            *(batch.size, len(items)),
            *triples,
            *errors,
        ],
    )
    if not result:
        return None
    state = str(result)
    if state != "sending":  # this call failed the batch: its items count as cancelled
        err = {"stage": "provider", "code": CANCELLED, "message": _NOT_SENT}
        chart_settled(
            r, batch.run_id, [err], succeeded=0, retention_s=settings.run_retention_s, times=batch.size
        )
    if state not in ("open", "sending"):
        run_finished(r, batch.run_id, state, settings)
    return state
