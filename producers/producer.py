"""The producer of one run: prepared items in, batches in Redis and on their way to Celery.

Memory stays flat whatever the catalog size: items stream through a window of
``WINDOW_ITEMS`` (one Redis round trip to compare their digests with what the provider last
confirmed), then into the chunker, and every full batch goes to Redis and to its connection's
ready list at once, so workers start sending while the producer is still reading. Only a set
of 64-bit id hashes grows with the catalog (duplicates, and pruning, need it).

Digests are read under the run's target (``workers.targets``), computed once here; every
batch carries it, so results are recorded where this run read.

In a dry run the same path classifies items (created, updated, unchanged, invalid) and
writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import redis

from producers.chunking import Chunk, Chunker
from producers.prepare import ItemError, Prepared, prepare
from producers.readers import Record
from workers import keys, ledger
from workers.config import Settings
from workers.connections import Connection
from workers.crashpoints import crash_point
from workers.dispatch import dispatch
from workers.errors import RunCancelled
from workers.metrics import count_items
from workers.ports import Send
from workers.providers.installed import get_mapper
from workers.providers.registry import get_connection
from workers.targets import current_target

__all__ = ["UNATTRIBUTED_LINES_KEPT", "WINDOW_ITEMS", "Producer"]

#: Items compared against stored digests per Redis round trip.
WINDOW_ITEMS = 1000
#: Line numbers kept of the records that name no item id (pruning's refusal quotes them).
UNATTRIBUTED_LINES_KEPT = 5


def _nothing(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
    raise RuntimeError("a dry run sends nothing; a real run must be given a send function")


class Producer:
    """Feeds one run.

    ``full`` sends every item, even those unchanged since the last sync. ``dry_run`` only
    counts what would happen, in ``self.report``.

    Raises:
        ConfigError: the connection's target cannot be named (an ``env:`` variable is unset).
        RunCancelled: (from ``consume``, ``add``, ``finish``) the run was cancelled.
    """

    def __init__(
        self,
        r: redis.Redis,
        settings: Settings,
        conn: Connection,
        run_id: str,
        *,
        full: bool,
        dry_run: bool = False,
        send: Send | None = None,
        priority: str = "normal",
    ) -> None:
        """``send`` puts the batches' tasks on the broker (a dry run sends nothing: None);
        ``priority`` is ``low`` for a scheduled resync (``ledger.create_batch``)."""
        self.r, self.settings, self.conn, self.run_id = r, settings, conn, run_id
        self.priority = priority
        self.full, self.dry_run = full, dry_run
        self.send: Send = send or _nothing
        self.mapper = get_mapper(conn.provider)
        self.target = current_target(r, conn)
        max_items = {"upsert": conn.batch_size, "deactivate": conn.spec.max_deactivate_items}
        self.chunkers = {
            kind: Chunker(f"{run_id}{suffix}", max_items=max_items, max_bytes=conn.max_request_bytes)
            for kind, suffix in (("catalog", ""), ("prune", "-p"))
        }
        self.window: list[Prepared] = []
        #: Hashes of every id read (valid or not): duplicates, and what pruning must keep.
        self.seen: set[int] = set()
        #: Records that name no item id (unparseable lines...): how many, and the first lines.
        self.unattributed = 0
        self.unattributed_lines: list[int] = []
        self.total = 0
        self.report: Counter[str] = Counter()
        #: The first validation errors, for reports (the run keeps all of them in Redis).
        self.first_errors: list[dict[str, Any]] = []
        self._counts = {"total": 0, "invalid": 0, "unchanged": 0, "excluded": 0}
        self._errors: dict[str, list[dict[str, Any]]] = {}
        #: Item statuses (``ledger.item_status``) of invalid and unchanged items, written with
        #: the counts.
        self._statuses: list[tuple[str, bytes]] = []

    def consume(self, records: Iterable[Record]) -> None:
        """Validate, map and queue raw catalog records."""
        mapper, options = self.mapper, self.conn.options
        for record in records:
            prepared = prepare(record, mapper, options)
            if isinstance(prepared, Prepared):
                prepared = self._check(prepared, record.position)
            elif not prepared[0].item_id.startswith("(line "):
                self.seen.add(hash(prepared[0].item_id))  # invalid, but in the catalog: never prune it
            else:  # it could be any item, which pruning could then not tell from one that left
                self.unattributed += 1
                if len(self.unattributed_lines) < UNATTRIBUTED_LINES_KEPT:
                    self.unattributed_lines.append(record.position)
            self.add(prepared)

    def add(self, prepared: Prepared | list[ItemError]) -> None:
        """Count one catalog item and queue it (or record why it is invalid)."""
        self.total += 1
        self._counts["total"] += 1
        if isinstance(prepared, Prepared):
            self.window.append(prepared)
            if len(self.window) >= WINDOW_ITEMS:
                self._flush_window()
        else:
            self._invalid(prepared)

    def count_settled(self, *, unchanged: int = 0, excluded: int = 0) -> None:
        """Count catalog items that end here without being sent: ``unchanged`` (a fan-out found
        their buckets identical: no per-item status is rewritten, the last outcome stands) and
        ``excluded`` (the connection's entitlement filter left them out)."""
        self.total += unchanged + excluded
        self._counts["total"] += unchanged + excluded
        self._counts["unchanged"] += unchanged
        self._counts["excluded"] += excluded
        self.report["unchanged"] += unchanged

    def fits(self, size_bytes: int) -> bool:
        """Whether an item of ``size_bytes`` fits in one request of this connection."""
        return self.chunkers["catalog"].fits(size_bytes)

    def add_prune(self, prepared: Prepared) -> None:
        """Queue the deactivation of an item the catalog no longer has (not a catalog item)."""
        self.report["pruned"] += 1
        if not self.dry_run:
            for batch in self.chunkers["prune"].add(prepared.op, prepared.item, prepared.size_bytes):
                self._write(batch, "prune")

    def _check(self, prepared: Prepared, position: int) -> Prepared | list[ItemError]:
        key = hash(prepared.item.id)
        if key in self.seen:
            message = "duplicate id: an earlier item of this catalog has it"
            return [ItemError(prepared.item.id, position, "id", message)]
        self.seen.add(key)
        if not self.chunkers["catalog"].fits(prepared.size_bytes):
            limit = self.conn.max_request_bytes
            msg = (
                f"the item is {prepared.size_bytes} bytes once mapped; one request may carry at most {limit}"
            )
            return [ItemError(prepared.item.id, position, "(item)", msg)]
        return prepared

    def _invalid(self, errors: list[ItemError]) -> None:
        self._counts["invalid"] += 1
        self.report["rejected"] += 1
        label = errors[0].item_id
        records = [e.as_record() for e in errors]
        self._errors.setdefault(label, []).extend(records)
        if len(self.first_errors) < ledger.ERRORS_MAX:
            self.first_errors.extend(records)
        if not label.startswith("(line "):
            reasons = "; ".join(r["message"] for r in records)
            status = ledger.encode_status("invalid", run_id=self.run_id, code="invalid", message=reasons)
            self._statuses.append((label, status))
        if len(self._errors) >= WINDOW_ITEMS:
            self._flush_counts()

    def _stop_if_cancelled(self) -> None:
        """Raise ``RunCancelled`` once the run was cancelled: what is not read yet is never
        counted, what was read but not batched is failed by the seal (``ledger.seal_run``)."""
        if not self.dry_run and ledger.is_cancelled(self.r, self.run_id):
            raise RunCancelled(f"run {self.run_id} was cancelled")

    def _flush_window(self) -> None:
        self._stop_if_cancelled()
        window, self.window = self.window, []
        changed = window
        if window and not (self.full and not self.dry_run):
            pipe = self.r.pipeline(transaction=False)
            for p in window:
                pipe.hget(keys.content_hashes(self.target.id, keys.item_bucket(p.item.id)), p.item.id)
            stored = pipe.execute()
            if not self.full:
                changed = [p for p, old in zip(window, stored, strict=True) if old != p.item.digest]
                if len(changed) < len(window):
                    unchanged = ledger.encode_status("unchanged", run_id=self.run_id)
                    self._statuses += [
                        (p.item.id, unchanged)
                        for p, old in zip(window, stored, strict=True)
                        if old == p.item.digest
                    ]
                self._counts["unchanged"] += len(window) - len(changed)
                self.report["unchanged"] += len(window) - len(changed)
            for p, old in zip(window, stored, strict=True):
                if self.full or old != p.item.digest:
                    self.report["created" if old is None else "updated"] += 1
        if not self.dry_run:
            add = self.chunkers["catalog"].add
            for p in changed:
                for batch in add(p.op, p.item, p.size_bytes):
                    self._write(batch, "catalog")
        self._flush_counts()

    def _write(self, batch: Chunk, kind: str) -> None:
        # The batch's items are counted in the run's total before the batch exists: a producer
        # that dies in between leaves items counted but never batched, which the seal counts
        # as failed. The other order would leave a batch of items the run never counted.
        self._flush_counts()
        self._stop_if_cancelled()
        ledger.create_batch(
            self.r,
            batch_id=batch.id,
            run_id=self.run_id,
            connection=self.conn.name,
            target=self.target.id,
            op=batch.op,
            items=batch.items,
            retention_s=self.settings.run_retention_s,
            payload_ttl_s=self.settings.batch_payload_ttl_s,
            kind=kind,
            priority=self.priority,
        )
        crash_point("producer.after_batch")
        dispatch(self.r, self.conn.name, self.conn, self.settings, self.send, get_connection=get_connection)

    def _flush_counts(self) -> None:
        if not self.dry_run:
            pipe = self.r.pipeline(transaction=False)
            ledger.add_counts(pipe, self.run_id, **self._counts)
            count_items(
                pipe, self.conn.name, invalid=self._counts["invalid"], unchanged=self._counts["unchanged"]
            )
            ledger.record_item_errors(pipe, self.run_id, self._errors, self.settings.run_retention_s)
            ledger.queue_statuses(pipe, self.conn.name, self._statuses, self.settings.run_retention_s)
            pipe.execute()
        self._counts = dict.fromkeys(self._counts, 0)
        self._errors = {}
        self._statuses = []

    def finish_catalog(self) -> None:
        """The catalog is read: send the last window."""
        self._flush_window()

    def finish(self) -> None:
        """Send what is left: the partly filled batches of the catalog and of the pruning."""
        self._flush_window()
        for kind, chunker in self.chunkers.items():
            for batch in chunker.flush():
                if not self.dry_run:
                    self._write(batch, kind)
        self._flush_counts()
