"""A run's failures by reason: how many error records share a stage, code and field, with one
sample message each, counted where the errors are recorded.

A reason is ``(stage, code, field)``: provider failures are told apart by the provider's code;
validation errors all share the code ``invalid`` and are told apart by the field at fault. The
counts let a summary across thousands of runs read one small hash per run, never the items (a
run may hold 100,000 of them). An item with two invalid fields counts under both reasons.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis

from workers import keys
from workers.metrics.timeline import count_settled

__all__ = [
    "MESSAGE_MAX",
    "Failures",
    "chart_settled",
    "failures",
    "queue_reasons",
    "read_reasons",
    "sum_reasons",
]

#: A sample message is cut to this many characters: it is shown, not parsed.
MESSAGE_MAX = 300
#: Runs read per pipeline while summing failures.
_RUNS_PER_TRIP = 500


@dataclass(frozen=True)
class Failures:
    reasons: list[dict[str, Any]]
    runs_scanned: int
    #: More runs matched than were read: the sums cover the newest ``runs_scanned``.
    truncated: bool


def _reason(error: dict[str, Any]) -> tuple[str, str, str]:
    return str(error.get("stage") or ""), str(error.get("code") or "UNKNOWN"), str(error.get("field") or "")


def queue_reasons(
    pipe: Any, run_id: str, errors: Iterable[dict[str, Any]], retention_s: int, *, times: int = 1
) -> None:
    """Queue on ``pipe`` the counts of ``errors`` (error records, each standing for ``times``
    items) by reason: one HINCRBY per distinct reason, however many records share it."""
    counts: dict[tuple[str, str, str], int] = {}
    samples: dict[tuple[str, str, str], str] = {}
    for error in errors:
        reason = _reason(error)
        counts[reason] = counts.get(reason, 0) + times
        samples.setdefault(reason, str(error.get("message") or "")[:MESSAGE_MAX])
    if not counts:
        return
    key = keys.run_reasons(run_id)
    for reason, n in counts.items():
        name = json.dumps(reason)
        pipe.hincrby(key, "n" + name, n)
        pipe.hsetnx(key, "m" + name, samples[reason])
    pipe.expire(key, retention_s)


@lru_cache(maxsize=4096)
def _parse(name: str) -> tuple[str, str, str]:
    # Thousands of runs share a few dozen reasons: a summary parses each name once.
    stage, code, field = json.loads(name)
    return str(stage), str(code), str(field)


def chart_settled(
    r: redis.Redis,
    run_id: str,
    errors: list[dict[str, Any]],
    *,
    succeeded: int,
    retention_s: int,
    times: int = 1,
) -> None:
    """The dashboard's counts of one settled batch (or of items failed together, each error
    standing for ``times`` items): outcomes on the run's timeline, errors by reason. Call it
    after they settled, only when this call settled them, so a duplicate delivery (which settles
    nothing) never counts twice; a crash just before costs a dent in a chart, never a wrong exact
    count (those are the run's own)."""
    pipe = r.pipeline(transaction=False)
    count_settled(pipe, run_id, succeeded=succeeded, failed=len(errors) * times, retention_s=retention_s)
    queue_reasons(pipe, run_id, errors, retention_s, times=times)
    pipe.execute()


def read_reasons(raw: dict[str, str]) -> list[dict[str, Any]]:
    """The reasons of one run from its hash (as HGETALL answers it), most frequent first."""
    found = []
    for name, value in raw.items():
        if not name.startswith("n"):
            continue
        stage, code, field = _parse(name[1:])
        found.append(
            {
                "stage": stage,
                "code": code,
                "field": field,
                "count": int(value),
                "message": raw.get("m" + name[1:], ""),
            }
        )
    return sorted(found, key=lambda f: (-f["count"], f["stage"], f["code"], f["field"]))


def sum_reasons(
    per_run: Iterable[tuple[str, dict[str, str]]], *, runs_per_reason: int = 5
) -> list[dict[str, Any]]:
    """Reasons across runs (``(run_id, raw hash)`` pairs, newest run first), most frequent first,
    each with how many runs had it and the newest ``runs_per_reason`` of them."""
    total: dict[tuple[str, str, str], dict[str, Any]] = {}
    for run_id, raw in per_run:
        for reason in read_reasons(raw):
            key = (reason["stage"], reason["code"], reason["field"])
            seen = total.setdefault(key, {**reason, "count": 0, "runs": 0, "run_ids": []})
            seen["count"] += reason["count"]
            seen["runs"] += 1
            if len(seen["run_ids"]) < runs_per_reason:
                seen["run_ids"].append(run_id)
    return sorted(total.values(), key=lambda f: (-f["count"], f["stage"], f["code"], f["field"]))


def failures(
    r: redis.Redis,
    *,
    since_ms: int,
    connection: str | None = None,
    may_see: Callable[[str], bool] = lambda _: True,
    runs_max: int = 5_000,
) -> Failures:
    """Failures by reason over the runs created since ``since_ms`` (newest ``runs_max`` of them)
    of ``connection`` (or of every connection ``may_see``): one small hash per run, pipelined."""
    index = keys.runs_of(connection) if connection else keys.RUNS_INDEX
    run_ids: list[str] = [
        m.decode() if isinstance(m, bytes) else str(m)
        for m in r.zrevrangebyscore(index, "+inf", since_ms, start=0, num=runs_max + 1)
    ]
    truncated = len(run_ids) > runs_max
    run_ids = run_ids[:runs_max]
    per_run: list[tuple[str, dict[str, str]]] = []
    seen = 0  # runs the caller may see: another tenant's runs are not even counted
    for start in range(0, len(run_ids), _RUNS_PER_TRIP):
        chunk = run_ids[start : start + _RUNS_PER_TRIP]
        pipe = r.pipeline(transaction=False)
        for run_id in chunk:
            pipe.hget(keys.run(run_id), "connection")
            pipe.hgetall(keys.run_reasons(run_id))
        replies = pipe.execute()
        for i, run_id in enumerate(chunk):
            owner, raw = replies[2 * i], replies[2 * i + 1]
            if owner is None or not may_see(str(owner)):
                continue
            seen += 1
            if raw:
                per_run.append((run_id, raw))
    return Failures(sum_reasons(per_run), seen, truncated)
