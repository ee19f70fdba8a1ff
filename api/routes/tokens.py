"""API tokens (admin scope): create (the token is shown once), list, revoke; and any token's
own record."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import tokens
from api.app import principal, require, state
from api.problems import Problem
from schemas.api_tokens import TokenCreateSchema, TokenListSchema, TokenSchema

blp = Blueprint("tokens", __name__, url_prefix="/v1", description="API tokens (admin)")


@blp.route("/tokens", methods=["POST"])
@blp.arguments(TokenCreateSchema)
@blp.response(201, TokenSchema)
@require("admin")
def create_token(args: dict[str, Any]) -> dict[str, Any]:
    """A new token with scopes and the connections it may touch; its value is shown only now."""
    r, _, _ = state()
    token, record = tokens.create_token(
        r, name=args["name"], scopes=args["scopes"], connections=args["connections"]
    )
    return {**record, "token": token}


@blp.route("/tokens", methods=["GET"])
@blp.response(200, TokenListSchema)
@require("admin")
def list_tokens() -> dict[str, Any]:
    """Every token's name, scopes and connections (never the token)."""
    r, _, _ = state()
    return {"tokens": tokens.list_tokens(r)}


@blp.route("/token", methods=["GET"])
@blp.response(200, TokenSchema)
@require("read")
def whoami() -> dict[str, Any]:
    """The calling token's own record: its scopes and connections (the dashboard shows what the
    token may do, and nothing more)."""
    r, _, _ = state()
    found = tokens.get_token(r, principal().id)
    if found is None:  # revoked while this request ran
        raise Problem(404, "this token was revoked", kind="not-found")
    return found


@blp.route("/tokens/<token_id>", methods=["DELETE"])
@blp.response(204)
@require("admin")
def revoke_token(token_id: str) -> None:
    """Revoke a token: it stops working at once."""
    r, _, _ = state()
    if not tokens.revoke_token(r, token_id):
        raise Problem(404, f"no token {token_id!r}", kind="not-found")
