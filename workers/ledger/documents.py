"""Reading runs: the run document of product.md, and the list of recent runs."""

from __future__ import annotations

import json
from typing import Any

import redis

from workers import keys
from workers.ledger.runs import BATCH_STATES, COUNTS, ERRORS_MAX, FINAL_STATES
from workers.redis_client import strs

__all__ = ["get_run", "list_runs", "run_document"]


def get_run(r: redis.Redis, run_id: str) -> dict[str, str] | None:
    """The raw run hash, or None if there is no such run (or it expired)."""
    raw = r.hgetall(keys.run(run_id))
    return raw or None  # type: ignore[return-value]


def run_document(r: redis.Redis, run_id: str) -> dict[str, Any] | None:
    """The run document of product.md. A run not yet ended whose connection is paused shows
    state ``paused`` and ``"paused": true``; a cancelled one shows ``cancel_requested_at``."""
    raw = get_run(r, run_id)
    if raw is None:
        return None
    counts = {c: int(raw.get(f"c_{c}", 0)) for c in COUNTS}
    settled = sum(counts[c] for c in ("invalid", "unchanged", "excluded", "succeeded", "failed"))
    counts["pending"] = max(0, counts["total"] - settled)
    batches = {b: int(raw.get(f"b_{b}", 0)) for b in BATCH_STATES}
    errors = [json.loads(e) for e in strs(r.lrange(keys.run_errors(run_id), 0, ERRORS_MAX - 1))]
    doc: dict[str, Any] = {
        "run_id": run_id,
        "connection": raw.get("connection"),
        "provider": raw.get("provider"),
        "state": raw.get("state"),
        "counts": counts,
        "batches": batches,
        "errors": errors,
        "created_at": raw.get("created_at"),
        "finished_at": raw.get("finished_at") or None,
    }
    if raw.get("cancel_requested"):
        doc["cancel_requested_at"] = raw["cancel_requested"]
    if doc["state"] not in FINAL_STATES and r.sismember(keys.PAUSED_CONNECTIONS, doc["connection"] or ""):
        # Read-time, not stored: resuming the connection gives the run its own state back.
        doc["state"], doc["paused"] = "paused", True
    if raw.get("target"):  # runs recorded before targets existed have none
        doc["target"] = raw["target"]
        doc["target_label"] = raw.get("target_label", "")
    if raw.get("fatal"):
        doc["reason"] = raw["fatal"]
    if raw.get("parent"):
        doc["parent"] = raw["parent"]  # the fan-out it is one connection's part of
    if raw.get("webhook"):
        doc["webhook"] = raw["webhook"]
    if int(raw.get("b_split", 0)):
        # A batch the provider refused as a whole was halved until its bad items stood alone.
        doc["splits"] = {
            "batches": int(raw["b_split"]),
            "extra_requests": int(raw.get("s_extra_requests", 0)),
        }
    options = json.loads(raw.get("options") or "{}")
    if options:
        doc["options"] = options
    if options.get("prune"):
        doc["prune"] = {
            "candidates": int(raw.get("p_candidates", 0)),
            "submitted": int(raw.get("p_submitted", 0)),
            "succeeded": int(raw.get("p_succeeded", 0)),
            "failed": int(raw.get("p_failed", 0)),
            "refused": raw.get("p_refused") or None,
        }
    return doc


def list_runs(r: redis.Redis, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs first, as run documents without their error lists."""
    docs = []
    for run_id in strs(r.zrevrange(keys.RUNS_INDEX, 0, limit - 1)):
        doc = run_document(r, str(run_id))
        if doc is not None:
            doc.pop("errors")
            docs.append(doc)
    return docs
