"""Connections at runtime: list, read, create, update, delete (secrets write-only), pause, resume."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api.app import principal, require, state
from api.problems import Problem
from api.routes.common import visible_connection
from schemas.api_connections import (
    ConnectionCreateSchema,
    ConnectionListSchema,
    ConnectionSchema,
    ConnectionWriteSchema,
    PauseSchema,
)
from workers import connection_store, control
from workers.connections import Connection
from workers.errors import ConflictError
from workers.providers.registry import get_connections, refresh_soon

blp = Blueprint("connections", __name__, url_prefix="/v1", description="Connections at runtime")

_SHOWN_APART = ("name", "source", "version", "provider", "base_url")


def _view(connection: Connection) -> dict[str, Any]:
    r, _, _ = state()
    public = connection_store.public_view(connection)
    return {
        **{k: public.get(k) for k in _SHOWN_APART},
        "provider": connection.provider,
        "base_url": connection.base_url,
        "paused": control.is_paused(r, connection.name),
        "settings": {k: v for k, v in public.items() if k not in _SHOWN_APART},
    }


def _write(name: str, table: dict[str, Any], *, create_only: bool) -> Connection:
    if not principal().may(name):
        raise Problem(403, f"this token may not touch connection {name!r}", kind="scope")
    r, _, _ = state()
    try:
        return connection_store.put_connection(r, name, table, create_only=create_only)
    except ConflictError as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    finally:
        refresh_soon()


@blp.route("/connections", methods=["GET"])
@blp.response(200, ConnectionListSchema)
@require("read")
def list_connections() -> dict[str, Any]:
    """The connections this token may touch, from the file and from the API, secrets hidden."""
    found = [c for name, c in sorted(get_connections().items()) if principal().may(name)]
    return {"connections": [_view(c) for c in found]}


@blp.route("/connections", methods=["POST"])
@blp.arguments(ConnectionCreateSchema)
@blp.response(201, ConnectionSchema)
@require("admin")
def create_connection(args: dict[str, Any]) -> dict[str, Any]:
    """Create a connection (409 if the name is taken). Every worker uses it within seconds;
    its secrets are sealed with COURSESYNC_SECRET_KEY and never shown again."""
    name = args.pop("name")
    return _view(_write(name, args, create_only=True))


@blp.route("/connections/<connection>", methods=["GET"])
@blp.response(200, ConnectionSchema)
@require("read")
def get_connection(connection: str) -> dict[str, Any]:
    """One connection, secrets shown as {"set": true} or the reference they are read from."""
    return _view(visible_connection(connection))


@blp.route("/connections/<connection>", methods=["PUT"])
@blp.arguments(ConnectionWriteSchema)
@blp.response(200, ConnectionSchema)
@require("admin")
def put_connection(args: dict[str, Any], connection: str) -> dict[str, Any]:
    """Create or replace a connection; a secret left out keeps its stored value, one set to null
    is removed. A connection of the file is overridden by the stored one."""
    return _view(_write(connection, args, create_only=False))


@blp.route("/connections/<connection>", methods=["DELETE"])
@blp.response(204)
@require("admin")
def delete_connection(connection: str) -> None:
    """Delete a connection created through the API (one of the file shows again); runs keep
    their history."""
    conn = visible_connection(connection)
    r, _, _ = state()
    deleted = connection_store.delete_connection(r, conn.name)
    refresh_soon()
    if not deleted:
        raise Problem(409, f"connection {conn.name!r} is defined in the configuration file; remove it there",
                      kind="conflict")  # fmt: skip


@blp.route("/connections/<connection>/pause", methods=["POST"])
@blp.response(200, PauseSchema)
@require("write")
def pause(connection: str) -> dict[str, Any]:
    """Send nothing for this connection until resumed; remote jobs already running are still
    polled to their end, and its open runs show ``paused``."""
    conn = visible_connection(connection)
    r, _, _ = state()
    control.pause_connection(r, conn.name)
    return {"connection": conn.name, "paused": True}


@blp.route("/connections/<connection>/resume", methods=["POST"])
@blp.response(200, PauseSchema)
@require("write")
def resume(connection: str) -> dict[str, Any]:
    """Send again: the waiting batches go out within a tick."""
    conn = visible_connection(connection)
    r, _, _ = state()
    control.resume_connection(r, conn.name)
    return {"connection": conn.name, "paused": False}
