"""Fan-outs: one catalog URL synced to many connections, read once, one run per connection."""

from __future__ import annotations

import json
from typing import Any

from flask import request, url_for
from flask_smorest import Blueprint

from api.app import principal, require, state
from api.idempotency import claim
from api.problems import Problem
from producers.fanout import reserve_fanout, resolve_connections
from producers.sync import SyncOptions
from schemas.api_fanouts import FanoutSchema, StartFanoutSchema
from workers import ledger
from workers.errors import ConfigError
from workers.ledger.fanouts import fanout_runs
from workers.ports import START_FANOUT
from workers.redact import redact_url
from workers.sealing import seal

blp = Blueprint(
    "fanouts", __name__, url_prefix="/v1", description="Fan-outs: one catalog to many connections, read once"
)


def _visible(fanout_id: str) -> dict[str, Any]:
    """The fan-out if every one of its connections is the token's; else 404."""
    r, _, _ = state()
    raw = ledger.get_fanout(r, fanout_id) if len(fanout_id) <= 300 else None
    if raw is None or not all(principal().may(c) for c, _ in fanout_runs(raw)):
        raise Problem(404, f"no fan-out {fanout_id!r} (kept for 30 days)", kind="not-found")
    doc = ledger.fanout_document(r, fanout_id)
    assert doc is not None
    return doc


def _names(wanted: list[str]) -> list[str]:
    """Names a token may use: every name it gives explicitly must be its own (else 404, as for a
    single run); globs and groups stand for those of their connections it may touch."""
    me = principal()
    found: list[str] = []
    for part in wanted:
        try:
            names = resolve_connections([part])
        except ConfigError as exc:
            raise Problem(
                404, str(exc), kind="not-found", errors=[{"field": "connections", "reason": "unknown"}]
            ) from None
        explicit = not (part.startswith("@") or set("*?[") & set(part))
        if explicit and not me.may(part):
            raise Problem(404, f"no connection {part!r}", kind="not-found",
                          errors=[{"field": "connections", "reason": "unknown"}])  # fmt: skip
        found += [n for n in names if me.may(n) and n not in found]
    if not found:
        raise Problem(404, "the connections named match none this token may touch", kind="not-found",
                      errors=[{"field": "connections", "reason": "matches none"}])  # fmt: skip
    return found


@blp.route("/fanouts", methods=["POST"])
@blp.arguments(StartFanoutSchema)
@blp.doc(
    parameters=[{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}]
)
@blp.response(202, FanoutSchema)
@require("write")
def start_fanout(args: dict[str, Any]) -> Any:
    """Sync one catalog URL to many connections: read and validated once, one run each."""
    r, settings, send = state()
    names = _names(args["connections"])
    fingerprint = json.dumps(args, sort_keys=True)
    key = request.headers.get("Idempotency-Key")
    with claim(r, principal().id, key, fingerprint, ttl_s=settings.api_idempotency_ttl_s) as claimed:
        if claimed.replay:
            headers = {
                "Location": url_for("fanouts.get_fanout", fanout_id=claimed.replay),
                "Idempotent-Replayed": "true",
            }
            return _visible(claimed.replay), 202, headers
        options = SyncOptions(full=args["full"], prune=args["prune"] or args["force_prune"],
                              force_prune=args["force_prune"], fmt=args.get("format"), trigger="api",
                              priority=args.get("priority"))  # fmt: skip
        source = args["source_url"]
        fanout_id = reserve_fanout(names, source, options, r=r, settings=settings)
        # A signed URL's credentials stay out of the documents: sealed in the record.
        ledger.keep_fanout_source(r, fanout_id, source if redact_url(source) == source else seal(source))
        send(START_FANOUT, {"fanout_id": fanout_id}, {})
        claimed.done(fanout_id)
    return _visible(fanout_id), 202, {"Location": url_for("fanouts.get_fanout", fanout_id=fanout_id)}


@blp.route("/fanouts/<fanout_id>")
@blp.response(200, FanoutSchema)
@require("read")
def get_fanout(fanout_id: str) -> Any:
    """A fan-out: each connection's run and state, and their counts summed."""
    return _visible(fanout_id)
