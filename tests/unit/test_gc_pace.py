"""The producer's garbage-collection pace: raised while a catalog streams, restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from producers import gc_pace
from producers.gc_pace import YOUNG_COLLECTION_OBJECTS, streaming_pace


@pytest.fixture(autouse=True)
def _restore_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_collects_in_larger_steps_while_streaming_then_restores() -> None:
    gc.set_threshold(700, 10, 10)
    with streaming_pace():
        assert gc.get_threshold() == (YOUNG_COLLECTION_OBJECTS, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restores_the_pace_when_the_feed_raises() -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), streaming_pace():
        raise RuntimeError("catalog broke")
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("threshold", [(0, 10, 10), (100_000, 5, 5)])
def test_leaves_a_collector_that_is_off_or_already_slower(threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(*threshold)
    with streaming_pace():
        assert gc.get_threshold() == threshold
    assert gc.get_threshold() == threshold


def test_a_sync_streams_at_the_raised_pace() -> None:
    """``_feed``, the one place every sync and dry run reads its catalog, uses the pace."""
    from producers import sync

    seen: list[int] = []
    gc.set_threshold(700, 10, 10)

    class _Producer:
        run_id = "r"

    sync._feed(_Producer(), lambda _p: seen.append(gc.get_threshold()[0]))  # type: ignore[arg-type]
    assert seen == [gc_pace.YOUNG_COLLECTION_OBJECTS]
    assert gc.get_threshold()[0] == 700
