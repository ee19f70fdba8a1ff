"""Liveness: answered without a token, for load balancers and compose healthchecks."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.app import state

blp = Blueprint("meta", __name__, url_prefix="/v1", description="Liveness")


class _HealthSchema(Schema):
    status = fields.Str(required=True)


@blp.route("/health", methods=["GET"])
@blp.response(200, _HealthSchema)
def health() -> dict[str, Any]:
    """The API answers and reaches Redis."""
    r, _, _ = state()
    r.ping()
    return {"status": "ok"}
