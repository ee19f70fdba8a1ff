"""The garbage collector's pace while a catalog streams through a producer.

CPython starts a young-generation collection every 700 new container objects. A producer makes
several per item (the decoded course, its tuples, the payload dict) and keeps them until their
window and batch leave, a thousand items later, so each collection walks the same live items
again: about a tenth of the producer's CPU in ``./run bench producer``. Collecting every
50,000 allocations instead walks them far less often. Cycles are still collected, only in
larger steps; the window and batches bound what is alive, so memory stays flat.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_COLLECTION_OBJECTS", "streaming_pace"]

#: New container objects between young-generation collections while a producer streams.
YOUNG_COLLECTION_OBJECTS = 50_000


@contextmanager
def streaming_pace() -> Iterator[None]:
    """Collect garbage in larger steps for the duration, then restore the previous pace.

    The setting is the interpreter's: two producers in threads of one process share it. The
    first to leave restores the old pace while the other still streams, which only costs
    that one speed, never correctness.
    """
    before = gc.get_threshold()
    if before[0] == 0 or before[0] >= YOUNG_COLLECTION_OBJECTS:  # off, or already slower: leave it
        yield
        return
    gc.set_threshold(YOUNG_COLLECTION_OBJECTS, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
