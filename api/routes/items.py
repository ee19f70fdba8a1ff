"""Item changes and item status: single courses upserted or deleted, gathered per connection into
bulk requests within a short window (``producers.changes``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_smorest import Blueprint

from api.app import require, state
from api.problems import Problem
from api.routes.common import visible_connection
from producers.changes import MAX_CHANGES_PER_CALL, submit_changes
from schemas.api import ItemChangesSchema, ItemStatusSchema, ReceiptSchema
from workers.errors import RequestTooLarge
from workers.ledger import item_status

blp = Blueprint("items", __name__, url_prefix="/v1", description="Item changes and item status")


def _submit(connection: str, upserts: list[dict[str, Any]], deletes: list[str]) -> dict[str, Any]:
    conn = visible_connection(connection)
    r, settings, send = state()
    try:
        receipt = submit_changes(r, conn.name, upserts=upserts, deletes=deletes, settings=settings, send=send)
    except RequestTooLarge as exc:
        reason = f"at most {MAX_CHANGES_PER_CALL} changes per call"
        raise Problem(
            413, str(exc), kind="too-many-changes", errors=[{"field": "upserts", "reason": reason}]
        ) from None
    found = asdict(receipt)
    found["invalid"] = [{**e, "stage": "validation"} for e in found["invalid"]]
    return found


@blp.route("/connections/<connection>/items", methods=["POST"])
@blp.arguments(ItemChangesSchema)
@blp.response(202, ReceiptSchema)
@require("write")
def change_items(args: dict[str, Any], connection: str) -> dict[str, Any]:
    """Upsert whole catalog items and delete (deactivate) item ids; sent within a short window,
    together with the connection's other changes, as bulk requests. Invalid items are answered
    at once with field and reason; the valid ones are accepted regardless."""
    return _submit(connection, args["upserts"], args["deletes"])


@blp.route("/connections/<connection>/items/<item_id>", methods=["DELETE"])
@blp.response(202, ReceiptSchema)
@require("write")
def delete_item(connection: str, item_id: str) -> dict[str, Any]:
    """Deactivate one item at the provider (sent with the connection's other changes)."""
    return _submit(connection, [], [item_id])


@blp.route("/connections/<connection>/items/<item_id>", methods=["GET"])
@blp.response(200, ItemStatusSchema)
@require("read")
def get_item(connection: str, item_id: str) -> dict[str, Any]:
    """What coursesync last knew of one item at this connection: state, when, run, the
    provider's id for it, and a failure's code and message."""
    conn = visible_connection(connection)
    r, _, _ = state()
    found = item_status(r, conn.name, item_id)
    if found is None:
        raise Problem(404, f"nothing is known of item {item_id!r} at {conn.name!r}", kind="not-found")
    return found
