"""What the dashboard shows beside runs: a run's timeline, failures by reason across runs, and a
connection at a glance (last run, schedule, budgets). Read-only; each reads counts kept for it,
never a run's items."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask_smorest import Blueprint

from api.app import principal, require, state
from api.routes.common import visible_connection, visible_run
from schemas.api import FailuresQuerySchema, FailuresSchema, TimelineSchema
from schemas.api_connections import ConnectionStatusSchema
from workers.ledger.listing import page_runs
from workers.ledger.reasons import failures
from workers.metrics.timeline import read_timeline
from workers.ratelimit.report import as_json, report
from workers.scheduler import next_due_s, schedule_state

blp = Blueprint("insights", __name__, url_prefix="/v1", description="What the dashboard shows")

#: Failures are summed over the last week unless ``since`` says otherwise.
_FAILURES_DEFAULT_S = 7 * 86400


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@blp.route("/runs/<run_id>/timeline", methods=["GET"])
@blp.response(200, TimelineSchema)
@require("read")
def run_timeline(run_id: str) -> dict[str, Any]:
    """Items settled (succeeded, failed), provider requests and 429s per time bucket: at most 120
    buckets, merged as the run grows longer."""
    visible_run(run_id)
    r, _, _ = state()
    return {"run_id": run_id, **read_timeline(r, run_id)}


@blp.route("/failures", methods=["GET"])
@blp.arguments(FailuresQuerySchema, location="query")
@blp.response(200, FailuresSchema)
@require("read")
def list_failures(args: dict[str, Any]) -> dict[str, Any]:
    """Failures by reason (stage, code, field) across the runs created since ``since``, most
    frequent first, each with a sample message and the newest runs that had it: follow
    ``/v1/runs/{id}/items?code=`` for the items."""
    r, _, _ = state()
    since = args.get("since")
    since_s = since.timestamp() if since is not None else time.time() - _FAILURES_DEFAULT_S
    connection = args.get("connection")
    shown_since = _iso(max(0.0, since_s))
    if connection and not principal().may(connection):
        return {"reasons": [], "since": shown_since, "runs_scanned": 0, "truncated": False}
    found = failures(r, since_ms=max(0, int(since_s * 1000)), connection=connection, may_see=principal().may)
    return {
        "reasons": found.reasons,
        "since": shown_since,
        "runs_scanned": found.runs_scanned,
        "truncated": found.truncated,
    }


@blp.route("/connections/<connection>/status", methods=["GET"])
@blp.response(200, ConnectionStatusSchema)
@require("read")
def connection_status(connection: str) -> dict[str, Any]:
    """The connection's last run, its schedule (last fired, next due) and the provider budgets it
    spends: limits configured and learned, use over the last 10 minutes, waiting batches. A budget
    shared with other connections shows only this one among its members."""
    conn = visible_connection(connection)
    r, _, _ = state()
    newest = page_runs(r, limit=1, connection=conn.name).runs
    schedule = None
    if conn.schedule is not None:
        raw = schedule_state(r, conn.name)
        fired = float(raw["last_fired_s"]) if raw.get("last_fired_s") else None
        schedule = {
            "every_s": conn.schedule.every_s,
            "cron": conn.schedule.cron,
            "last_fired_at": _iso(fired) if fired is not None else None,
            "last_run_id": raw.get("last_run_id"),
            "last_outcome": raw.get("last_outcome"),
            "next_due_at": _iso(next_due_s(conn.schedule, fired, time.time())),
        }
    return {
        "connection": conn.name,
        "provider": conn.provider,
        "last_run": newest[0] if newest else None,
        "schedule": schedule,
        "budgets": [as_json(b) for b in report(r, [conn])],
    }
