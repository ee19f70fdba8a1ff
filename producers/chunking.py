"""Pure chunking: prepared items in, chunks out, by item count and by request bytes. No I/O.

A chunk becomes one batch of the ledger (``workers.ledger.create_batch``) when it is full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chunk", "Chunker", "batch_id"]

#: Bytes of the request envelope around the items (``{"items":[...]}`` and commas), generous.
_ENVELOPE_BYTES = 64


def batch_id(run_id: str, index: int) -> str:
    """Deterministic: the same run and position always name the same batch."""
    return f"{run_id}-{index:05d}"


@dataclass
class Chunk:
    """Items of one operation that will travel in one request (``items`` are the prepared
    items, whatever their type: chunking only counts them and their bytes)."""

    id: str
    op: str
    items: list[Any] = field(default_factory=list)
    size_bytes: int = _ENVELOPE_BYTES


class Chunker:
    """Groups items per operation into batches of at most ``max_items`` and ``max_bytes``.

    An item bigger than ``max_bytes`` on its own cannot be sent; callers check ``fits`` first.
    """

    def __init__(self, run_id: str, *, max_items: dict[str, int], max_bytes: int) -> None:
        self._run_id = run_id
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._open: dict[str, Chunk] = {}
        self._count = 0

    def fits(self, size_bytes: int) -> bool:
        return size_bytes + 1 + _ENVELOPE_BYTES <= self._max_bytes

    def _new(self, op: str) -> Chunk:
        batch = Chunk(batch_id(self._run_id, self._count), op)
        self._count += 1
        self._open[op] = batch
        return batch

    def add(self, op: str, item: Any, size_bytes: int) -> list[Chunk]:
        """Add one item; the chunk that became full, if any (a list of none or one)."""
        # A list, not a generator: this runs once per catalog item, and making a generator
        # costs more than the rest of the call.
        batch = self._open.get(op) or self._new(op)
        full: list[Chunk] = []
        if batch.items and batch.size_bytes + size_bytes + 1 > self._max_bytes:
            full.append(self._open.pop(op))
            batch = self._new(op)
        batch.items.append(item)
        batch.size_bytes += size_bytes + 1
        if len(batch.items) >= self._max_items[op]:
            full.append(self._open.pop(op))
        return full

    def flush(self) -> Iterator[Chunk]:
        """The remaining partly filled chunks."""
        for op in sorted(self._open):
            yield self._open.pop(op)
