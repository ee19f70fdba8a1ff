"""Parts whose targets hold the same digests share one diff (``producers.fanout.diffs``): it is
computed once, and each part still sends exactly what its own target lacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from producers.fanout import diffs, part
from producers.fanout.diffs import shared_diff
from tests.unit import test_fanout
from tests.unit.test_fanout import catalog, counts, run_fanout
from tests.unit.test_pipeline_inprocess import CONFIG as ONE_CONNECTION

TWINS = (
    ONE_CONNECTION
    + """
[connections.acme-twin]
provider = "kombo"
base_url = "http://127.0.0.1:9/kombo/v1"
api_key = "env:ACME_KEY"
integration_id = "sandbox:z"
batch_size = 100
requests_per_minute = 600000

[groups]
all = ["acme*"]
"""
)


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setattr(test_fanout, "CONFIG", TWINS)
    return test_fanout.setup.__wrapped__(monkeypatch, tmp_path)  # type: ignore[attr-defined]


@pytest.fixture
def diffed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The targets a part diffed for itself (read their sub-fingerprints)."""
    seen: list[str] = []
    real = part.load_sub_fingerprints

    def spy(r: redis.Redis, target: str, buckets: list[int]) -> Any:
        seen.append(target)
        return real(r, target, buckets)

    monkeypatch.setattr(part, "load_sub_fingerprints", spy)
    return seen


def test_twin_targets_share_one_diff_and_each_sends_the_changes(
    r: redis.Redis, raw_r: redis.Redis, setup: Any, diffed: list[str]
) -> None:
    first = run_fanout(r, raw_r, setup, catalog(300))
    assert counts(first, "acme") == counts(first, "acme-twin") == (301, 1, 0, 0, 300, 0, 0)
    diffed.clear()
    changed = run_fanout(r, raw_r, setup, catalog(300, frozenset({4, 7})))
    # The two targets held the same digests: one diffed, the other read its diff
    assert len(diffed) == 1
    assert counts(changed, "acme") == counts(changed, "acme-twin") == (301, 1, 0, 298, 2, 0, 0)


def test_targets_that_differ_diff_each_for_itself(
    r: redis.Redis, raw_r: redis.Redis, setup: Any, diffed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_fanout(r, raw_r, setup, catalog(300))
    # Only acme is given c4's change, so the twins' targets no longer hold the same digests
    with monkeypatch.context() as m:
        m.setattr(test_fanout, "start_fanout", lambda _names, items, r: _start("acme", items, r))
        alone = run_fanout(r, raw_r, setup, catalog(300, frozenset({4})))
    assert [run["connection"] for run in alone["runs"]] == ["acme"]
    assert counts(alone, "acme") == (301, 1, 0, 299, 1, 0, 0)
    diffed.clear()
    both = run_fanout(r, raw_r, setup, catalog(300, frozenset({4, 7})))
    assert len(diffed) == 2
    assert counts(both, "acme") == (301, 1, 0, 299, 1, 0, 0)  # c7
    assert counts(both, "acme-twin") == (301, 1, 0, 298, 2, 0, 0)  # c4 and c7


def _start(names: str, items: Any, r: redis.Redis) -> str:
    from producers.fanout import start_fanout

    return start_fanout(names, items, r=r)


def test_a_diff_that_fails_half_way_is_not_shared_and_its_error_is_not_hidden(tmp_path: Path) -> None:
    base = tmp_path / "v0"

    def failing() -> diffs.Changes:
        yield 3, [["a"]]
        raise RuntimeError("the snapshot could not be read")

    with pytest.raises(RuntimeError, match="could not be read"):
        list(shared_diff(base, "held", "run-1", failing))
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left to share

    def whole() -> diffs.Changes:
        yield 3, [["a", "d1"]]
        yield 5, []

    assert list(shared_diff(base, "held", "run-2", whole)) == [(3, [["a", "d1"]]), (5, [])]

    def never() -> diffs.Changes:
        raise AssertionError("a target that holds the same digests reads the shared diff")

    assert list(shared_diff(base, "held", "run-3", never)) == [(3, [["a", "d1"]]), (5, [])]
    # A target that holds something else diffs for itself
    assert list(shared_diff(base, "other", "run-4", whole)) == [(3, [["a", "d1"]]), (5, [])]
