"""Runs: start one from a URL or an uploaded catalog, read, list, page failures, retry, cancel."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

from flask import request, url_for
from flask_smorest import Blueprint

from api.app import principal, require, state
from api.idempotency import Claim, claim
from api.routes.common import visible_connection, visible_run
from api.uploads import format_of, store_upload
from producers.run_starts import start_retry_run
from schemas.api import (
    ItemPageSchema,
    ItemsQuerySchema,
    RunListSchema,
    RunQuerySchema,
    RunSchema,
    StartRunSchema,
    UploadQuerySchema,
)
from workers import control, ledger
from workers.ledger.listing import page_items, page_runs
from workers.ports import START_RUN
from workers.redact import redact_url
from workers.sealing import seal

blp = Blueprint("runs", __name__, url_prefix="/v1", description="Runs: one sync of a catalog to a connection")

_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "a retried POST with the same key answers the first run, not a new one",
}
_STAGES = {"failed": "provider", "invalid": "validation", "all": None}


def _accepted(run_id: str, replayed: bool) -> tuple[dict[str, Any], int, dict[str, str]]:
    headers = {"Location": url_for("runs.get_run", run_id=run_id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return visible_run(run_id), 202, headers


def _reserve(
    connection: str,
    provider: str,
    source: str,
    options: dict[str, Any],
    webhook: str = "",
    *,
    run_id: str = "",
) -> str:
    """Record the run, then ask a worker to read its catalog: its id leads somewhere from now on."""
    r, settings, send = state()
    run_id = run_id or ledger.new_run_id()
    shown_source = redact_url(source) if source.startswith(("http://", "https://")) else "upload"
    recorded = {**options, "trigger": "api", "source": shown_source}
    # A signed URL's credentials stay out of the run document: sealed in the record.
    kept_source = source if shown_source in (source, "upload") else seal(source)
    kept_webhook = webhook if redact_url(webhook) == webhook else seal(webhook)
    ledger.reserve_run(
        r,
        run_id=run_id,
        connection=connection,
        provider=provider,
        retention_s=settings.run_retention_s,
        grace_s=settings.api_start_grace_s,
        options=recorded,
        source=kept_source,
        webhook_url=kept_webhook,
    )
    send(START_RUN, {"run_id": run_id}, {})
    return run_id


def _claim(fingerprint: str) -> AbstractContextManager[Claim]:
    """This request's ``Idempotency-Key`` (if any), claimed for the caller's token."""
    r, settings, _ = state()
    key = request.headers.get("Idempotency-Key")
    return claim(r, principal().id, key, fingerprint, ttl_s=settings.api_idempotency_ttl_s)


def _options(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in ("full", "prune", "force_prune", "priority", "format") if k in args}


@blp.route("/runs", methods=["POST"])
@blp.arguments(StartRunSchema)
@blp.doc(parameters=[_IDEMPOTENCY])
@blp.response(202, RunSchema)
@require("write")
def start_run(args: dict[str, Any]) -> Any:
    """Start a run from a catalog URL (JSON Lines, JSON or CSV, gzip or not) that workers fetch."""
    connection = visible_connection(args["connection"])
    fingerprint = json.dumps(args, sort_keys=True)
    with _claim(fingerprint) as claimed:
        if claimed.replay:
            return _accepted(claimed.replay, replayed=True)
        run_id = _reserve(
            connection.name,
            connection.provider,
            args["source_url"],
            _options(args),
            args.get("webhook_url", ""),
        )
        claimed.done(run_id)
    return _accepted(run_id, replayed=False)


@blp.route("/connections/<connection>/runs", methods=["POST"])
@blp.arguments(UploadQuerySchema, location="query")
@blp.doc(
    parameters=[_IDEMPOTENCY],
    requestBody={
        "required": True,
        "description": "the catalog itself, streamed; Content-Encoding: gzip or a .gz body is read through",
        "content": {
            t: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            for t in ("application/x-ndjson", "application/json", "text/csv", "application/gzip")
        },
    },
)
@blp.response(202, RunSchema)
@require("write")
def upload_run(args: dict[str, Any], connection: str) -> Any:
    """Start a run from the uploaded catalog. Answered once the catalog is on disk where every
    worker reads it (fsynced), with memory flat in its size."""
    conn = visible_connection(connection)
    _, settings, _ = state()
    # A bare gzip body is JSON Lines unless ?format= says otherwise (the most common export).
    bare = request.mimetype == "application/gzip"
    gzipped = bare or request.headers.get("Content-Encoding", "").lower() == "gzip"
    fmt = args.get("format") or ("jsonl" if bare else format_of(request.mimetype))
    fingerprint = json.dumps(
        {"connection": conn.name, **args, "format": fmt, "gzip": gzipped, "length": request.content_length},
        sort_keys=True,
    )
    with _claim(fingerprint) as claimed:
        if claimed.replay:
            return _accepted(claimed.replay, replayed=True)
        run_id = ledger.new_run_id()  # the file is named by the run that reads it
        name = f"{run_id}.{fmt}" + (".gz" if gzipped else "")
        path, size = store_upload(
            request.stream, settings.catalog_dir, name, max_bytes=settings.api_max_upload_bytes
        )
        options = {**_options(args), "format": fmt, "upload_bytes": size}
        _reserve(conn.name, conn.provider, path, options, run_id=run_id)
        claimed.done(run_id)
    return _accepted(run_id, replayed=False)


@blp.route("/runs", methods=["GET"])
@blp.arguments(RunQuerySchema, location="query")
@blp.response(200, RunListSchema)
@require("read")
def list_runs(args: dict[str, Any]) -> dict[str, Any]:
    """Runs newest first; filter by connection, provider and state; follow ``next_cursor`` for
    more."""
    r, _, _ = state()
    connection = args.get("connection")
    if connection and not principal().may(connection):
        return {"runs": [], "next_cursor": None}
    page = page_runs(
        r,
        limit=args["limit"],
        cursor=args.get("cursor"),
        connection=connection,
        state=args.get("state"),
        provider=args.get("provider"),
        may_see=principal().may,
    )
    return {"runs": page.runs, "next_cursor": page.next_cursor}


@blp.route("/runs/<run_id>", methods=["GET"])
@blp.response(200, RunSchema)
@require("read")
def get_run(run_id: str) -> dict[str, Any]:
    """The run document (product.md): state, exact counts, the first 100 errors."""
    return visible_run(run_id)


@blp.route("/runs/<run_id>/items", methods=["GET"])
@blp.arguments(ItemsQuerySchema, location="query")
@blp.response(200, ItemPageSchema)
@require("read")
def run_items(args: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The run's failed (default) or invalid items with every reason, a page at a time; with
    ``code`` (and ``field``), those of one reason. A filtered page may be short, or even empty,
    and still carry a ``next_cursor``: at most 5,000 records are read per page."""
    visible_run(run_id)
    r, _, _ = state()
    page = page_items(
        r,
        run_id,
        stage=_STAGES[args["state"]],
        limit=args["limit"],
        cursor=args.get("cursor"),
        code=args.get("code"),
        field=args.get("field") if args.get("code") else None,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/runs/<run_id>/retry", methods=["POST"])
@blp.doc(parameters=[_IDEMPOTENCY])
@blp.response(202, RunSchema)
@require("write")
def retry_run(run_id: str) -> Any:
    """A new run of the items that failed at the provider in this run, sent as they were."""
    visible_run(run_id)
    r, settings, send = state()
    with _claim(f"retry {run_id}") as claimed:
        if claimed.replay:
            return _accepted(claimed.replay, replayed=True)
        new_id = start_retry_run(run_id, r=r, settings=settings, send=send)
        claimed.done(new_id)
    return _accepted(new_id, replayed=False)


@blp.route("/runs/<run_id>/cancel", methods=["POST"])
@blp.response(200, RunSchema)
@require("write")
def cancel_run(run_id: str) -> dict[str, Any]:
    """Send no further batch; jobs already at the provider are tracked to their end, and the run
    ends ``cancelled`` with exact counts (never-sent items fail with ``coursesync.CANCELLED``).
    Cancelling an ended run changes nothing."""
    visible_run(run_id)
    r, settings, _ = state()
    doc = control.cancel_run(r, run_id, settings)
    return doc if doc is not None else visible_run(run_id)
