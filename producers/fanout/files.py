"""The pieces a fan-out snapshot is written with (``producers.fanout.snapshot``): rows spilled
by shard of buckets so memory stays flat, rows of item errors, and files mapped to be read."""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from producers.prepare import ItemError
from workers import keys

__all__ = ["PER_SHARD", "ROWS_HELD", "SPILL_SHARDS", "ShardSpill", "error_row", "map_file", "read_errors"]

SPILL_SHARDS = 64
PER_SHARD = keys.HASH_BUCKETS // SPILL_SHARDS
#: Index rows (and their payloads) a view holds before writing them out.
ROWS_HELD = 4096


def error_row(error: ItemError) -> bytes:
    return orjson.dumps([error.item_id, error.position, error.field, error.message]) + b"\n"


def read_errors(path: Path) -> Iterator[list[ItemError]]:
    """Each invalid item's errors (rows of one item are written together)."""
    if not path.exists():
        return
    group: list[ItemError] = []
    with path.open("rb") as fh:
        for line in fh:
            error = ItemError(*orjson.loads(line))
            if group and (group[0].item_id, group[0].position) != (error.item_id, error.position):
                yield group
                group = []
            group.append(error)
    if group:
        yield group


class ShardSpill:
    """Rows whose first value is a bucket, written to one file per shard of buckets as they
    come (``ROWS_HELD`` at a time), read back one shard at a time: memory stays flat."""

    def __init__(self, directory: Path, name: str) -> None:
        self.files = [(directory / f"{name}{s}").open("wb") for s in range(SPILL_SHARDS)]
        self.rows: list[tuple[Any, ...]] = []

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= ROWS_HELD:
            self._spill()

    def _spill(self) -> None:
        by_shard: dict[int, list[Any]] = {}
        for row in self.rows:
            by_shard.setdefault(row[0] // PER_SHARD, []).append(row)
        for shard, rows in by_shard.items():
            self.files[shard].write(orjson.dumps(rows) + b"\n")
        self.rows = []

    def take(self, shard: int) -> list[list[Any]]:
        """The rows of ``shard`` added so far; no row of it may be added after."""
        self._spill()
        spill = self.files[shard]
        spill.close()
        path = Path(spill.name)
        with path.open("rb") as fh:
            rows = [row for line in fh for row in orjson.loads(line)]
        path.unlink()
        return rows

    def shards(self) -> Iterator[tuple[int, list[list[Any]]]]:
        for shard in range(SPILL_SHARDS):
            yield shard, self.take(shard)

    def close(self) -> None:
        for spill in self.files:
            if not spill.closed:
                spill.close()
                Path(spill.name).unlink(missing_ok=True)


def map_file(path: str) -> mmap.mmap | bytes:
    with open(path, "rb") as fh:
        if fh.seek(0, 2) == 0:
            return b""  # mmap cannot map an empty file
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
