"""Fan-outs: one catalog read once for many connections, one run per connection.

The fan-out's own record says which runs it has and how far its reading got; everything else
(counts, states, errors) lives in the child runs, so status, retry, cancel and webhooks stay
per customer. The fan-out document sums them when read.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import redis

from workers import keys
from workers.ledger.documents import run_document
from workers.ledger.runs import COUNTS, FINAL_STATES, now_iso

__all__ = [
    "claim_reading",
    "create_fanout",
    "fanout_document",
    "fanout_runs",
    "get_fanout",
    "is_fanout_id",
    "keep_fanout_source",
    "mark_read",
    "new_fanout_id",
    "part_done",
    "parts_done",
]

_PREFIX = "f_"


def new_fanout_id() -> str:
    return _PREFIX + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "_" + secrets.token_hex(3)


def is_fanout_id(text: str) -> bool:
    return text.startswith(_PREFIX)


def create_fanout(
    r: redis.Redis,
    fanout_id: str,
    *,
    runs: list[tuple[str, str]],
    source: str,
    options: dict[str, Any],
    retention_s: int,
) -> None:
    """Record a fan-out of ``runs`` (connection, run id), each already recorded (reserved)."""
    created_ms = int(time.time() * 1000)
    pipe = r.pipeline()
    pipe.hset(
        keys.fanout(fanout_id),
        mapping={
            "fanout_id": fanout_id,
            "runs": json.dumps(runs),
            "source": source,
            "options": json.dumps(options),
            "created_at": now_iso(),
            "state": "reading",
        },
    )
    pipe.expire(keys.fanout(fanout_id), retention_s)
    for _, run_id in runs:
        pipe.hset(keys.run(run_id), "parent", fanout_id)
    pipe.zadd(keys.FANOUTS_INDEX, {fanout_id: created_ms})
    pipe.execute()


def keep_fanout_source(r: redis.Redis, fanout_id: str, source: str) -> None:
    """Where the worker that reads the fan-out finds its catalog (sealed if it has credentials)."""
    r.hset(keys.fanout(fanout_id), "source_kept", source)


def claim_reading(r: redis.Redis, fanout_id: str) -> bool:
    """The one reader of a fan-out claims it (a start task delivered twice reads once)."""
    return bool(r.hsetnx(keys.fanout(fanout_id), "reader_started", now_iso()))


def get_fanout(r: redis.Redis, fanout_id: str) -> dict[str, str] | None:
    raw = r.hgetall(keys.fanout(fanout_id))
    return raw or None  # type: ignore[return-value]


def fanout_runs(raw: dict[str, str]) -> list[tuple[str, str]]:
    return [(c, run_id) for c, run_id in json.loads(raw.get("runs") or "[]")]


def mark_read(
    r: redis.Redis, fanout_id: str, *, items: int, view_of: dict[str, int], reason: str = ""
) -> None:
    """The catalog was read (``reason`` empty) or could not be (the reason); ``view_of``: each
    run's view of the snapshot (``producers.fanout``)."""
    fields: dict[Any, Any] = {"read_at": now_iso(), "items": items, "views": len(set(view_of.values()))}
    pipe = r.pipeline()
    for run_id, view in view_of.items():
        pipe.hset(keys.run(run_id), "view", view)
    fields["state"] = "failed" if reason else "read"
    if reason:
        fields["reason"] = reason
    pipe.hset(keys.fanout(fanout_id), mapping=fields)
    pipe.execute()


def part_done(r: redis.Redis, fanout_id: str, run_id: str, retention_s: int) -> int:
    """Count run ``run_id``'s part as done (sent, given up, or its run ended before it started),
    once however often it is said; returns how many runs' parts are."""
    pipe = r.pipeline()
    pipe.sadd(keys.fanout_parts_done(fanout_id), run_id)
    pipe.expire(keys.fanout_parts_done(fanout_id), retention_s)
    pipe.scard(keys.fanout_parts_done(fanout_id))
    return int(pipe.execute()[-1])


def parts_done(r: redis.Redis, fanout_id: str) -> int:
    """How many of the fan-out's runs have their part done."""
    return int(r.scard(keys.fanout_parts_done(fanout_id)))


def fanout_document(r: redis.Redis, fanout_id: str) -> dict[str, Any] | None:
    """The fan-out and its runs: each run's connection, state and counts, and their sums.

    ``state``: ``reading`` while the catalog is read; then ``running`` until every run ended;
    then ``completed`` if every run completed, ``failed`` if every run failed, ``cancelled`` if
    every run was cancelled, else ``completed_with_errors``.
    """
    raw = get_fanout(r, fanout_id)
    if raw is None:
        return None
    runs = []
    totals = dict.fromkeys((*COUNTS, "pending"), 0)
    for connection, run_id in fanout_runs(raw):
        run = run_document(r, run_id)
        if run is None:  # expired before its parent
            continue
        for name, value in run["counts"].items():
            totals[name] = totals.get(name, 0) + value
        runs.append({"run_id": run_id, "connection": connection, "provider": run["provider"],
                     "state": run["state"], "counts": run["counts"]})  # fmt: skip
    states = {run["state"] for run in runs}
    ended = bool(states) and states <= FINAL_STATES
    if raw.get("state") == "reading" and not ended:
        state = "reading"  # (a reader that died leaves its runs to the doctor, which ends them)
    elif not ended:
        state = "running"
    elif len(states) == 1:
        state = states.pop()
    else:
        state = "completed_with_errors"
    doc: dict[str, Any] = {
        "fanout_id": fanout_id,
        "state": state,
        "source": raw.get("source", ""),
        "created_at": raw.get("created_at"),
        "read_at": raw.get("read_at") or None,
        "items": int(raw.get("items", 0)),
        "counts": totals,
        "runs_by_state": {
            s: sum(1 for run in runs if run["state"] == s) for s in sorted({x["state"] for x in runs})
        },
        "runs": runs,
        "options": json.loads(raw.get("options") or "{}"),
    }
    if raw.get("reason"):
        doc["reason"] = raw["reason"]
    return doc
