"""A run's timeline: items settled and provider requests (and 429s) per time bucket.

The dashboard charts it; nothing decides anything from it. The owner of ``keys.run_timeline``:
the ledger calls ``count_settled`` once per settled batch (one HINCRBY per outcome, not per
item), and the HTTP response hook calls ``count_request`` for every provider answer, for the run
bound by ``counting_for`` around the request (a submit or a status poll). An answer outside any
binding (an OAuth token refresh between runs) counts for the connection only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from workers import keys

__all__ = ["count_request", "count_settled", "counting_for", "read_timeline"]

#: (run id, retention in s) of the batch whose request this thread is making.
_bound: ContextVar[tuple[str, int] | None] = ContextVar("coursesync_timeline_run", default=None)
#: Kinds of count, and the names the API answers them under.
_KINDS = {"ok": "succeeded", "failed": "failed", "req": "requests", "429": "throttled"}


def _bucket(now_s: float | None = None) -> int:
    return int(now_s if now_s is not None else time.time()) // keys.TIMELINE_BUCKET_S


@contextmanager
def counting_for(run_id: str, retention_s: int) -> Iterator[None]:
    """Count the provider answers received inside the block for ``run_id``."""
    token = _bound.set((run_id, retention_s))
    try:
        yield
    finally:
        _bound.reset(token)


def count_request(pipe: Any, status_code: int) -> None:
    """Queue one provider answer on ``pipe`` for the bound run, if any."""
    bound = _bound.get()
    if bound is None:
        return
    run_id, retention_s = bound
    key, bucket = keys.run_timeline(run_id), _bucket()
    pipe.hincrby(key, f"{bucket}:req", 1)
    if status_code == 429:
        pipe.hincrby(key, f"{bucket}:429", 1)
    pipe.expire(key, retention_s)


def count_settled(pipe: Any, run_id: str, *, succeeded: int, failed: int, retention_s: int) -> None:
    """Queue one settled batch's outcomes on ``pipe``."""
    key, bucket = keys.run_timeline(run_id), _bucket()
    for kind, n in (("ok", succeeded), ("failed", failed)):
        if n:
            pipe.hincrby(key, f"{bucket}:{kind}", n)
    pipe.expire(key, retention_s)


def read_timeline(r: Any, run_id: str, *, max_points: int = 120) -> dict[str, Any]:
    """The run's counts per bucket, oldest first, in at most ``max_points`` buckets: recorded
    buckets are merged (``bucket_s`` widens) when the run lasted longer than that.

    Returns ``{"bucket_s", "points": [{"t": epoch s of the bucket's start, "succeeded",
    "failed", "requests", "throttled"}]}``, empty buckets included between the first and last.
    """
    raw: dict[str, str] = r.hgetall(keys.run_timeline(run_id))
    counts: dict[int, dict[str, int]] = {}
    for field, value in raw.items():
        number, _, kind = field.partition(":")
        if kind in _KINDS and number.isdigit():
            counts.setdefault(int(number), {})[_KINDS[kind]] = int(value)
    if not counts:
        return {"bucket_s": keys.TIMELINE_BUCKET_S, "points": []}
    first, last = min(counts), max(counts)
    merge = max(1, math.ceil((last - first + 1) / max_points))
    points: list[dict[str, int]] = []
    for start in range(first, last + 1, merge):
        point: dict[str, int] = {"t": start * keys.TIMELINE_BUCKET_S, **dict.fromkeys(_KINDS.values(), 0)}
        for bucket in range(start, min(start + merge, last + 1)):
            for name, n in counts.get(bucket, {}).items():
                point[name] += n
        points.append(point)
    return {"bucket_s": keys.TIMELINE_BUCKET_S * merge, "points": points}
