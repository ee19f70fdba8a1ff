"""The API's route groups, one blueprint each."""

from __future__ import annotations

from flask_smorest import Blueprint

__all__ = ["blueprints"]


def blueprints() -> list[Blueprint]:
    from api.routes import connections, fanouts, insights, items, meta, runs, tokens

    return [meta.blp, runs.blp, fanouts.blp, insights.blp, items.blp, connections.blp, tokens.blp]
