"""Paging through runs and through a run's failed and invalid items, with opaque cursors.

A cursor is a position, not an offset: new runs arriving while a client pages do not shift
what it sees next. Runs page by creation time (newest first) from the run indexes; items page
with HSCAN over the run's per-item error records, so a run with 100,000 failures is read a page
at a time, never whole.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from workers import keys
from workers.errors import ConfigError
from workers.ledger.documents import run_document
from workers.ledger.runs import FINAL_STATES
from workers.redis_client import strs

__all__ = ["ItemPage", "RunPage", "page_items", "page_runs"]

#: Run documents read per round trip while filtering.
_RUNS_PER_TRIP = 200
#: A filtered page reads at most this many runs; a sparse filter answers fewer runs and a cursor.
_RUNS_SCANNED_MAX = 5_000
#: A filtered page of items reads at most this many error records.
_ITEMS_SCANNED_MAX = 5_000


@dataclass(frozen=True)
class RunPage:
    runs: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class ItemPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _encode(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise ConfigError("cursor is not one this API returned; start again without it") from None
    if not isinstance(position, dict):
        raise ConfigError("cursor is not one this API returned; start again without it")
    return position


def page_runs(
    r: redis.Redis,
    *,
    limit: int,
    cursor: str | None = None,
    connection: str | None = None,
    state: str | None = None,
    provider: str | None = None,
    may_see: Callable[[str], bool] = lambda _: True,
) -> RunPage:
    """Runs newest first, filtered by ``connection``, ``state``, ``provider`` and
    ``may_see(connection)``.

    ``state`` is the state the run document shows (``paused`` included). Without ``state`` a
    page is exactly ``limit`` runs while there are more; with it, a page may hold fewer and still
    carry a cursor when many runs did not match (the scan per page is bounded).
    """
    index = keys.runs_of(connection) if connection else keys.RUNS_INDEX
    position = _decode(cursor) if cursor else {}
    max_score: str | int = position.get("s", "+inf")
    after = str(position.get("id", ""))
    found: list[dict[str, Any]] = []
    scanned = 0
    while len(found) < limit and scanned < _RUNS_SCANNED_MAX:
        reply: Any = r.zrevrangebyscore(
            index, max_score, "-inf", start=0, num=_RUNS_PER_TRIP + 1, withscores=True
        )
        entries = [(m.decode() if isinstance(m, bytes) else str(m), int(score)) for m, score in reply]
        # Runs created in the same millisecond share a score: skip the ones already answered.
        if after:
            entries = [(i, sc) for i, sc in entries if not (sc == max_score and i >= after)]
        if not entries:
            return RunPage(found, None)
        # One round trip tells which runs cannot match, so a sparse filter over thousands of
        # runs reads a few fields of each, not its whole document.
        pipe = r.pipeline(transaction=False)
        for run_id, _ in entries:
            pipe.hmget(keys.run(run_id), "connection", "provider", "state")
        heads = pipe.execute()
        for (run_id, score), (owner, runs_on, recorded) in zip(entries, heads, strict=True):
            scanned += 1
            max_score, after = score, run_id
            if not _may_match(owner, runs_on, recorded, may_see, state=state, provider=provider):
                continue
            doc = run_document(r, run_id)
            if doc is None:
                continue
            doc.pop("errors", None)
            if state and doc["state"] != state:
                continue
            found.append(doc)
            if len(found) == limit:
                break
    return RunPage(found, _encode({"s": max_score, "id": after}))


def _may_match(
    owner: Any,
    runs_on: Any,
    recorded: Any,
    may_see: Callable[[str], bool],
    *,
    state: str | None,
    provider: str | None,
) -> bool:
    """Whether a run whose hash holds these fields can match; its document has the last word
    (an open run may read as ``paused``, so only a final recorded state rules it out)."""
    if owner is None or not may_see(str(owner)) or (provider and runs_on != provider):
        return False
    return not state or recorded == state or recorded not in FINAL_STATES


def page_items(
    r: redis.Redis,
    run_id: str,
    *,
    stage: str | None,
    limit: int,
    cursor: str | None = None,
    code: str | None = None,
    field: str | None = None,
) -> ItemPage:
    """The run's failed (``stage="provider"``) or invalid (``"validation"``) items, each with every
    error record (item id, stage, code, message and, for invalid ones, the field); with ``code``
    (and ``field``), only items with an error of that reason.

    A page holds about ``limit`` items (HSCAN's granularity); an item is never answered twice
    unless Redis resizes the hash between pages. A page reads at most ``_ITEMS_SCANNED_MAX``
    records: a rare reason among 100,000 failures answers short pages, each with a cursor.
    """
    position = _decode(cursor) if cursor else {"c": 0}
    scan_cursor = int(position.get("c", 0))
    items: list[dict[str, Any]] = []
    scanned = 0
    # A reason filter skips most records: read more per round trip (pages stay "about limit").
    count = limit if code is None and field is None else max(limit, 200)
    while True:
        reply: Any = r.hscan(keys.run_item_errors(run_id), scan_cursor, count=count)
        scan_cursor, found = int(reply[0]), dict(reply[1])
        scanned += len(found)
        for item_id, raw in sorted(zip(strs(found.keys()), strs(found.values()), strict=True)):
            errors = json.loads(raw)
            if not any(_matches(e, stage, code, field) for e in errors):
                continue
            items.append({"item_id": item_id, "errors": errors})
        if scan_cursor == 0 or len(items) >= limit or scanned >= _ITEMS_SCANNED_MAX:
            break
    return ItemPage(items, _encode({"c": scan_cursor}) if scan_cursor else None)


def _matches(error: dict[str, Any], stage: str | None, code: str | None, field: str | None) -> bool:
    return (
        (not stage or error.get("stage") == stage)
        and (not code or error.get("code") == code)
        and (field is None or (error.get("field") or "") == field)
    )
