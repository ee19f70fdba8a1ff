"""The producer of one run: prepared items in, batches in Redis and on their way to Celery.

Memory stays flat whatever the catalog size: items stream through a window of
``WINDOW_ITEMS`` (one Redis round trip to compare their digests with what the provider last
confirmed), then into the chunker, and every full batch goes to Redis and to its connection's
ready list at once, so workers start sending while the producer is still reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from producers.chunking import Batch, Chunker
from producers.prepare import ItemError, Prepared, prepare
from producers.readers import Record
from schemas.mappers import get_mapper
from workers import keys
from workers.config import Settings
from workers.connections import Connection
from workers.dispatch import dispatch
from workers.store import runs
from workers.store.batches import create_batch

__all__ = ["WINDOW_ITEMS", "Producer"]

#: Items compared against stored digests per Redis round trip.
WINDOW_ITEMS = 1000


class Producer:
    """Feeds one run. ``full`` sends every item, even those unchanged since the last sync."""

    def __init__(
        self, r: redis.Redis, settings: Settings, conn: Connection, run_id: str, *, full: bool
    ) -> None:
        self.r, self.settings, self.conn, self.run_id, self.full = r, settings, conn, run_id, full
        self.mapper = get_mapper(conn.provider)
        self.chunker = Chunker(
            run_id,
            max_items={"upsert": conn.batch_size, "deactivate": conn.spec.max_deactivate_items},
            max_bytes=conn.max_request_bytes,
        )
        self.window: list[Prepared] = []
        self.seen: set[int] = set()
        self.total = 0
        self._counts = {"total": 0, "invalid": 0, "unchanged": 0}
        self._errors: dict[str, list[dict[str, Any]]] = {}

    def consume(self, records: Iterable[Record]) -> None:
        """Validate, map and queue raw catalog records."""
        for record in records:
            prepared = prepare(record, self.mapper, self.conn.options)
            if isinstance(prepared, Prepared):
                prepared = self._check(prepared, record.position)
            self.add(prepared)

    def add(self, prepared: Prepared | list[ItemError]) -> None:
        """Count one item and queue it (or record why it is invalid)."""
        self.total += 1
        self._counts["total"] += 1
        if isinstance(prepared, Prepared):
            self.window.append(prepared)
            if len(self.window) >= WINDOW_ITEMS:
                self._flush_window()
        else:
            self._invalid(prepared)

    def _check(self, prepared: Prepared, position: int) -> Prepared | list[ItemError]:
        key = hash(prepared.item.id)
        if key in self.seen:
            return [
                ItemError(
                    prepared.item.id,
                    position,
                    "id",
                    "duplicate id: an earlier item of this catalog has it",
                )
            ]
        self.seen.add(key)
        if not self.chunker.fits(prepared.size_bytes):
            limit = self.conn.max_request_bytes
            msg = (
                f"the item is {prepared.size_bytes} bytes once mapped; one request may carry at most {limit}"
            )
            return [ItemError(prepared.item.id, position, "(item)", msg)]
        return prepared

    def _invalid(self, errors: list[ItemError]) -> None:
        self._counts["invalid"] += 1
        label = errors[0].item_id
        self._errors.setdefault(label, []).extend(e.as_record() for e in errors)
        if len(self._errors) >= WINDOW_ITEMS:
            self._flush_counts()

    def _flush_window(self) -> None:
        window, self.window = self.window, []
        changed = window
        if not self.full and window:
            pipe = self.r.pipeline(transaction=False)
            for p in window:
                pipe.hget(keys.content_hashes(self.conn.name, keys.item_bucket(p.item.id)), p.item.id)
            stored = pipe.execute()
            changed = [p for p, old in zip(window, stored, strict=True) if old != p.item.digest]
            self._counts["unchanged"] += len(window) - len(changed)
        for p in changed:
            for batch in self.chunker.add(p.op, p.item, p.size_bytes):
                self._write(batch)
        self._flush_counts()

    def _write(self, batch: Batch) -> None:
        pipe = self.r.pipeline(transaction=False)
        create_batch(
            pipe,
            batch_id=batch.id,
            run_id=self.run_id,
            connection=self.conn.name,
            op=batch.op,
            items=batch.items,
            retention_s=self.settings.run_retention_s,
            payload_ttl_s=self.settings.batch_payload_ttl_s,
        )
        runs.add_counts(pipe, self.run_id, batches=1)
        pipe.execute()
        dispatch(self.r, self.conn, lease_s=self.settings.batch_lease_s)

    def _flush_counts(self) -> None:
        pipe = self.r.pipeline(transaction=False)
        runs.add_counts(pipe, self.run_id, **self._counts)
        runs.record_item_errors(pipe, self.run_id, self._errors, self.settings.run_retention_s)
        pipe.execute()
        self._counts = dict.fromkeys(self._counts, 0)
        self._errors = {}

    def finish(self) -> None:
        """Send what is left: the last window and the partly filled batches."""
        self._flush_window()
        for batch in self.chunker.flush():
            self._write(batch)
        self._flush_counts()
