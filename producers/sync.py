"""Starting a run: read a catalog, validate, skip what did not change, chunk, enqueue.

Memory stays flat whatever the catalog size: records stream through a window of
``WINDOW_ITEMS`` prepared items (one Redis round trip to compare their digests), then into
the chunker, and every full batch goes to Redis and to its connection's ready list at once,
so workers start sending while the producer is still reading.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from producers.chunking import Batch, Chunker
from producers.prepare import ItemError, Prepared, prepare
from producers.readers import Record
from producers.sources import detect_format, open_source, read_records
from schemas.mappers import get_mapper
from workers import keys
from workers.config import Settings, get_settings
from workers.connections import Connection
from workers.dispatch import dispatch
from workers.errors import CatalogError
from workers.providers.registry import get_connection
from workers.redis_client import get_redis
from workers.runlife import run_finished
from workers.store import runs
from workers.store.batches import create_batch

__all__ = ["SyncOptions", "start_run"]

log = logging.getLogger(__name__)

#: Items compared against stored digests per Redis round trip.
WINDOW_ITEMS = 1000

Source = str | Iterable[dict[str, Any]]


@dataclass(frozen=True)
class SyncOptions:
    """How to run a sync. ``full`` resends unchanged items; ``fmt`` overrides the extension."""

    full: bool = False
    prune: bool = False
    fmt: str | None = None
    trigger: str = "api"


def start_run(
    connection_name: str,
    source: Source,
    options: SyncOptions | None = None,
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
) -> str:
    """Read ``source`` into a new run of ``connection_name`` and return the run id.

    Raises ConfigError for an unknown or broken connection (before any run exists). Problems
    with the catalog as a whole end the run ``failed`` with the reason; bad items are recorded
    as invalid and never stop the others.
    """
    options = options or SyncOptions()
    settings = settings or get_settings()
    r = r or get_redis()
    connection = get_connection(connection_name)
    run_id = runs.new_run_id()
    runs.create_run(
        r,
        run_id=run_id,
        connection=connection.name,
        provider=connection.provider,
        retention_s=settings.run_retention_s,
        options={"full": options.full, "prune": options.prune, "trigger": options.trigger},
    )
    producer = _Producer(r, settings, connection, run_id, options)
    fatal = ""
    try:
        producer.consume(_records(source, options.fmt))
    except CatalogError as exc:
        fatal = str(exc)
        log.error("catalog unreadable run=%r reason=%s", run_id, fatal)
    producer.finish()
    if not fatal and producer.total == 0:
        fatal = "the catalog holds no items"
    state = runs.seal_run(r, run_id, fatal)
    if state is not None:
        run_finished(r, run_id, state, settings)
    return run_id


def _records(source: Source, fmt: str | None) -> Iterator[Record]:
    if isinstance(source, str):
        fmt = detect_format(source, fmt)
        with open_source(source) as stream:
            yield from read_records(stream, fmt)
    else:
        for index, data in enumerate(source, start=1):
            yield Record(index, data)


class _Producer:
    def __init__(
        self,
        r: redis.Redis,
        settings: Settings,
        conn: Connection,
        run_id: str,
        options: SyncOptions,
    ) -> None:
        self.r, self.settings, self.conn, self.run_id, self.options = (
            r,
            settings,
            conn,
            run_id,
            options,
        )
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
        for record in records:
            self.total += 1
            self._counts["total"] += 1
            prepared = prepare(record, self.mapper, self.conn.options)
            if isinstance(prepared, Prepared):
                prepared = self._check(prepared, record.position)
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
        if not self.options.full and window:
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
