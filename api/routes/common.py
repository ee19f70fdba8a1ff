"""What several routes need: the caller's connection and run, or a 404 that reveals nothing."""

from __future__ import annotations

from typing import Any

from api.app import principal, state
from api.problems import Problem
from workers.connections import Connection
from workers.errors import ConfigError
from workers.ledger import run_document
from workers.providers.registry import get_connection

__all__ = ["visible_connection", "visible_run"]


def visible_connection(name: str) -> Connection:
    """The connection ``name`` if the token may touch it; else 404, whether it exists or not."""
    if principal().may(name):
        try:
            return get_connection(name)
        except ConfigError:
            pass
    raise Problem(
        404,
        f"no connection {name!r}",
        kind="not-found",
        errors=[{"field": "connection", "reason": "unknown"}],
    )


def visible_run(run_id: str) -> dict[str, Any]:
    """The run document if its connection is the token's; else 404 (another tenant's run too)."""
    r, _, _ = state()
    doc = run_document(r, run_id) if len(run_id) <= 300 else None
    if doc is None or not principal().may(str(doc["connection"])):
        raise Problem(404, f"no run {run_id!r} (runs are kept for 30 days)", kind="not-found")
    return doc
