"""A fan-out's catalog as read once: per view, every item's digest and payload on disk,
indexed by digest bucket, with each bucket's fingerprint.

Files live in ``<catalog_dir>/fanouts/<fanout_id>/`` (the directory every worker reads, like
uploads), so any worker can diff and send any connection's part:

- ``invalid.jsonl``: the catalog's invalid records, ``[item_id, line, field, message]``;
- ``v<k>.payloads``: the mapped payloads of view k, canonical JSON, back to back;
- ``v<k>.index``: per bucket, a JSON list of ``[item_id, digest, op, size, offset, line, sub]``
  (the payload's offset, its length being its size; the item's place in the catalog; its
  sub-bucket). An item whose digest the last fan-out's memory knew (``producers.fanout.memory``)
  has no payload: offset -1, then ``line_offset, line_size`` of its line in ``catalog.lines``,
  which a part maps again if it sends the item;
- ``catalog.lines``: the catalog lines of those items, back to back;
- ``v<k>.subs``: 16 sub-bucket fingerprints of 16 hex chars per bucket, as the target keeps them
  (``keys.sub_fingerprints``);
- ``v<k>.errors.jsonl``: items view k's mapping refused;
- ``meta.json``: per view its bucket fingerprints, index offsets and item counts.

Memory stays flat while writing: index entries are spilled to ``SPILL_SHARDS`` files by bucket
range as they come, then each shard is grouped by bucket in turn (1/64 of a view at a time).
Items the memory may know come a shard at a time already (``SnapshotWriter.deferred``): their
entries go straight to the index, not through the spill.
"""

from __future__ import annotations

import mmap
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from producers.fanout.files import (
    PER_SHARD,
    ROWS_HELD,
    SPILL_SHARDS,
    ShardSpill,
    error_row,
    map_file,
    read_errors,
)
from producers.prepare import ItemError
from workers import keys
from workers.catalog_files import fanout_dir
from workers.ledger.fingerprints import SUBS, fingerprint_hex

__all__ = ["SPILL_SHARDS", "Entry", "SnapshotReader", "SnapshotWriter", "fanout_dir", "remove"]

#: ``[item_id, digest, op, size, offset, line, sub]``.
Entry = list[Any]


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


class _ViewWriter:
    def __init__(self, directory: Path, index: int) -> None:
        self.base = directory / f"v{index}"
        self.payloads = open(f"{self.base}.payloads", "wb")  # noqa: SIM115 - closed in close()
        self.index_rows = ShardSpill(directory, f"v{index}.spill")
        self.errors = open(f"{self.base}.errors.jsonl", "wb")  # noqa: SIM115 - closed in close()
        self.offset = 0
        #: Payloads not written yet (at most ``ROWS_HELD``).
        self.pending: list[bytes] = []
        #: Index rows of the shard being written straight to the index (``begin_shard``), else
        #: None: rows are spilled until ``close``.
        self.direct: list[tuple[Any, ...]] | None = None
        self.index = open(f"{self.base}.index", "wb")  # noqa: SIM115 - closed in close()
        self.offsets = [0] * (keys.HASH_BUCKETS + 1)
        self.at = 0
        self.shards_written = 0
        self.fingerprints = [0] * keys.HASH_BUCKETS
        self.subs = [0] * (keys.HASH_BUCKETS * SUBS)
        self.counts = [0] * keys.HASH_BUCKETS
        self.items = self.excluded = self.refused = 0

    def add(
        self, item_id: str, bucket: int, digest: str, op: str, canonical: bytes, *, line: int, sub: int,
        share: int,
    ) -> None:  # fmt: skip
        """One item (``bucket``, ``sub``: its bucket and sub-bucket; ``share``: its share of the
        bucket's fingerprint, ``workers.ledger.fingerprints.fingerprint``: each computed once
        for every view)."""
        self._count(bucket, sub, share)
        size = len(canonical)
        row = (bucket, item_id, digest, op, size, self.offset, line, sub)
        self._row(row)
        self.pending.append(canonical)
        self.offset += size
        if len(self.pending) >= ROWS_HELD:  # one write, not one per item
            self._write_payloads()

    def add_known(
        self, item_id: str, bucket: int, digest: str, op: str, *, size: int, raw: tuple[int, int],
        line: int, sub: int, share: int,
    ) -> None:  # fmt: skip
        """One item whose digest (and ``share`` of its bucket's fingerprint) the memory knew:
        no payload is written; a part that sends it maps it again from its catalog line
        (``raw``: where the line is in ``catalog.lines``)."""
        # ``_count`` and ``_row`` written out: called once per item and view of every resync.
        self.fingerprints[bucket] ^= share
        self.subs[bucket * SUBS + sub] ^= share
        self.counts[bucket] += 1
        self.items += 1
        row = (bucket, item_id, digest, op, size, -1, line, sub, *raw)
        if self.direct is not None:
            self.direct.append(row)
        else:
            self.index_rows.add(row)

    def _row(self, row: tuple[Any, ...]) -> None:
        if self.direct is not None:
            self.direct.append(row)
        else:
            self.index_rows.add(row)

    def _count(self, bucket: int, sub: int, share: int) -> None:
        self.fingerprints[bucket] ^= share
        self.subs[bucket * SUBS + sub] ^= share
        self.counts[bucket] += 1
        self.items += 1

    def _write_payloads(self) -> None:
        self.payloads.write(b"".join(self.pending))
        self.pending = []

    def refuse(self, errors: list[ItemError]) -> None:
        self.refused += 1
        for error in errors:
            self.errors.write(error_row(error))

    def begin_shard(self) -> None:
        """Rows added from here until ``end_shard`` belong to one shard: they go straight to
        the index instead of being spilled and read back."""
        self.direct = []

    def end_shard(self, shard: int) -> None:
        if shard != self.shards_written:  # the index is written in bucket order
            raise ValueError(f"shard {shard} written out of order (expected {self.shards_written})")
        rows, self.direct = self.direct or [], None
        self._write_shard(shard, [*self.index_rows.take(shard), *rows])

    def _write_shard(self, shard: int, rows: list[Any]) -> None:
        """Group a shard's rows by bucket into the index."""
        by_bucket: dict[int, list[Entry]] = {}
        for bucket, *entry in rows:
            by_bucket.setdefault(bucket, []).append(entry)
        for bucket in range(shard * PER_SHARD, (shard + 1) * PER_SHARD):
            self.offsets[bucket] = self.at
            if bucket in by_bucket:
                self.at += self.index.write(orjson.dumps(by_bucket[bucket]))
        self.shards_written += 1

    def close(self) -> dict[str, Any]:
        """Write what is left of the index (the shards not written yet, from the spill); the
        view's metadata."""
        self._write_payloads()
        self.payloads.close()
        self.errors.close()
        for shard in range(self.shards_written, SPILL_SHARDS):
            self._write_shard(shard, self.index_rows.take(shard))
        self.index.close()
        offsets = self.offsets
        offsets[keys.HASH_BUCKETS] = self.at
        with open(f"{self.base}.subs", "wb") as subs:
            subs.write("".join(fingerprint_hex(v) for v in self.subs).encode())
        return {
            "fingerprints": [fingerprint_hex(v) for v in self.fingerprints],
            "offsets": offsets,
            "counts": self.counts,
            "items": self.items,
            "excluded": self.excluded,
            "refused": self.refused,
        }


class SnapshotWriter:
    """Writes a fan-out's snapshot; ``close`` returns (and stores) its metadata."""

    def __init__(self, directory: Path, n_views: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.views = [_ViewWriter(directory, k) for k in range(n_views)]
        self.invalid = (directory / "invalid.jsonl").open("wb")
        self.total = self.n_invalid = self.unattributed = 0
        self.unattributed_lines: list[int] = []
        #: Catalog lines kept for items mapped later (``defer``), back to back.
        self.lines = (directory / "catalog.lines").open("wb")
        self._lines_at = 0
        self._lines: mmap.mmap | bytes = b""
        self._deferred = ShardSpill(directory, "deferred")
        self._learnt = ShardSpill(directory, "learnt")

    def defer(
        self,
        item_id: str,
        line: bytes,
        *,
        bucket: int,
        sub: int,
        position: int,
        hashed: str,
        views: list[int],
    ) -> None:
        """A valid item whose mapping waits for its shard's turn (``deferred``), when the
        memory of the last fan-out may know its digests; ``views``: the views that license it."""
        self.lines.write(line)
        self._deferred.add((bucket, item_id, position, sub, hashed, views, self._lines_at, len(line)))
        self._lines_at += len(line)

    def deferred(self) -> Iterator[tuple[int, list[list[Any]]]]:
        """Each shard and its deferred items: ``[bucket, item_id, position, sub, line_hash,
        views, line_offset, line_size]``. The catalog lines are readable from here on."""
        self.lines.close()
        self._lines = map_file(str(self.directory / "catalog.lines"))
        for shard, rows in self._deferred.shards():
            for view in self.views:
                view.begin_shard()
            yield shard, rows
            for view in self.views:
                view.end_shard(shard)

    def remember(self, item_id: str, bucket: int, hashed: str, mapped: dict[str, list[Any]]) -> None:
        """What the memory learns of an item mapped as it was read (no memory to ask yet)."""
        self._learnt.add((bucket, item_id, hashed, mapped))

    def learnt(self) -> Iterator[tuple[int, list[list[Any]]]]:
        """Each shard and what ``remember`` kept of its items: ``[bucket, item_id, line_hash,
        {mapping_key: [digest, op, size, share]}]``."""
        yield from self._learnt.shards()

    def line(self, offset: int, size: int) -> bytes:
        """A deferred item's catalog line (once ``deferred`` started)."""
        return bytes(self._lines[offset : offset + size])

    def add_invalid(self, errors: list[ItemError]) -> None:
        self.n_invalid += 1
        for error in errors:
            self.invalid.write(error_row(error))

    def close(self) -> dict[str, Any]:
        self.invalid.close()
        self.lines.close()
        self._deferred.close()
        self._learnt.close()
        if isinstance(self._lines, mmap.mmap):
            self._lines.close()
        meta = {
            "total": self.total,
            "invalid": self.n_invalid,
            "unattributed": self.unattributed,
            "unattributed_lines": self.unattributed_lines,
            "views": [v.close() for v in self.views],
        }
        (self.directory / "meta.json").write_bytes(orjson.dumps(meta))
        return meta


class SnapshotReader:
    """One view of a written snapshot, read bucket by bucket (memory-mapped)."""

    def __init__(self, directory: Path, view: int) -> None:
        self.directory = directory
        self.meta = orjson.loads((directory / "meta.json").read_bytes())
        self.view: dict[str, Any] = self.meta["views"][view]
        self.base = directory / f"v{view}"
        self._index = map_file(f"{self.base}.index")
        self._payloads = map_file(f"{self.base}.payloads")
        self._subs = map_file(f"{self.base}.subs")
        self._lines: mmap.mmap | bytes | None = None

    def bucket(self, bucket: int) -> list[Entry]:
        start, end = self.view["offsets"][bucket], self.view["offsets"][bucket + 1]
        return orjson.loads(self._index[start:end]) if end > start else []

    def subs(self, bucket: int) -> list[str]:
        """The 16 sub-bucket fingerprints of ``bucket``."""
        chunk = bytes(self._subs[16 * SUBS * bucket : 16 * SUBS * (bucket + 1)]).decode()
        return [chunk[16 * s : 16 * s + 16] for s in range(SUBS)]

    def payload(self, entry: Entry) -> bytes | None:
        """The entry's payload as canonical JSON; None for an item the memory knew (``line``
        has its catalog line, to map again)."""
        offset, size = entry[4], entry[3]
        if offset < 0:
            return None
        return bytes(self._payloads[offset : offset + size])

    def line(self, entry: Entry) -> bytes:
        """The catalog line of an item the memory knew."""
        if self._lines is None:
            self._lines = map_file(str(self.directory / "catalog.lines"))
        offset, size = entry[7], entry[8]
        return bytes(self._lines[offset : offset + size])

    def invalid(self) -> Iterator[list[ItemError]]:
        """The catalog's invalid records, then the items this view's mapping refused: each
        item's errors."""
        yield from read_errors(self.directory / "invalid.jsonl")
        yield from read_errors(Path(f"{self.base}.errors.jsonl"))

    def close(self) -> None:
        for m in (self._index, self._payloads, self._subs, self._lines):
            if isinstance(m, mmap.mmap):
                m.close()
