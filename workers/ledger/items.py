"""Per-item outcomes of a run: every invalid or failed item with its reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import redis

from workers import keys

__all__ = ["item_errors", "retry_items"]


def item_errors(r: redis.Redis, run_id: str) -> Iterator[dict[str, Any]]:
    """Every error record of the run (validation and provider), in no particular order."""
    for _item_id, raw in r.hscan_iter(keys.run_item_errors(run_id), count=1000):
        yield from json.loads(raw)


def retry_items(r: redis.Redis, run_id: str) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(item id, digest, provider payload, op) of every item that failed at the provider."""
    for _item_id, raw in r.hscan_iter(keys.run_retry_items(run_id), count=1000):
        item_id, digest, payload, op = json.loads(raw)
        yield item_id, digest, payload, op
