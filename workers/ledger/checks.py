"""The doctor's question to the ledger: is every batch of this run where it can move on?"""

from __future__ import annotations

from typing import Any, NamedTuple

import redis

from workers import keys, lua
from workers.redis_client import strs

__all__ = ["Reachability", "check_batches"]

#: Batches checked per script call: one call blocks Redis for about a millisecond.
_CHUNK = 200


class Reachability(NamedTuple):
    """Pending batches found in no queue, submitted ones not due for a poll, records gone."""

    requeued: list[str]
    rescheduled: list[str]
    missing: list[str]


def check_batches(r: redis.Redis, run_id: str, connection: str, *, repair: bool) -> tuple[int, Reachability]:
    """(batches checked, what was found) for every batch of ``run_id``; with ``repair``, pending
    and submitted batches found out of place are put back (``workers/lua/check_batches.lua``).
    Each check is atomic, so a batch moving at that moment is never misjudged."""
    ids = strs(r.lrange(keys.run_batches(run_id), 0, -1))
    found = Reachability([], [], [])
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        answer: Any = lua.run(
            r,
            "check_batches",
            [
                keys.ready(connection),
                keys.inflight(connection),
                keys.DEFERRED,
                keys.JOBS_DUE,
                keys.READY_CONNECTIONS,
                keys.ready(connection, "low"),
                *[keys.batch(b) for b in chunk],
            ],
            ["1" if repair else "0", connection, *chunk],
        )
        for mine, theirs in zip(found, answer, strict=True):
            mine.extend(strs(theirs))
    return len(ids), found
