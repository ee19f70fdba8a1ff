"""Chunking by item count and request bytes (pure, no I/O)."""

from __future__ import annotations

from producers.chunking import Chunker


def test_chunks_close_at_max_items_and_ids_follow_their_order() -> None:
    chunker = Chunker("r1", max_items={"upsert": 2}, max_bytes=10_000)
    full = [chunk for n in range(5) for chunk in chunker.add("upsert", n, 10)]
    assert [(c.id, c.items) for c in full] == [("r1-00000", [0, 1]), ("r1-00001", [2, 3])]
    assert [(c.id, c.items) for c in chunker.flush()] == [("r1-00002", [4])]


def test_an_item_that_overflows_the_open_chunk_closes_it_and_starts_the_next() -> None:
    chunker = Chunker("r1", max_items={"upsert": 1000, "deactivate": 1}, max_bytes=200)
    assert chunker.add("upsert", "a", 100) == []
    # No room left for 100 more bytes: the open chunk is full, "b" starts the next one
    assert [c.items for c in chunker.add("upsert", "b", 100)] == [["a"]]
    # Operations chunk apart: a chunk of at most one deactivation closes at once
    assert [c.items for c in chunker.add("deactivate", "x", 10)] == [["x"]]
    assert [c.items for c in chunker.flush()] == [["b"]]
