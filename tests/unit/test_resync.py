"""Resyncs send only what changed; pruning deactivates what left the catalog, within a guard."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import redis

from producers.sync import SyncOptions, dry_run, start_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys
from workers.connections import load_connections
from workers.ledger import run_document
from workers.providers.fake import FakeProvider
from workers.scheduler import check_schedules


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def catalog(n: int, skip: set[int] = frozenset()) -> list[dict[str, object]]:  # type: ignore[assignment]
    return [{"id": f"c{i}", "title": f"T{i}", "url": "https://a.example"} for i in range(n) if i not in skip]


def deactivated(provider: FakeProvider, since: int) -> list[str]:
    return sorted(i for op, ids in provider.submissions[since:] if op == "deactivate" for i in ids)


def test_prune_deactivates_exactly_the_items_gone_from_the_catalog(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    drain(deps, sent, start_run("acme", catalog(100), r=r, settings=deps.settings))
    before = len(provider.submissions)
    # Given a catalog that lost 5 items and has one that turned invalid (still named: kept)
    items = [
        {"id": "c50", "title": ""} if i["id"] == "c50" else i for i in catalog(100, skip={3, 30, 31, 60, 99})
    ]
    doc = drain(deps, sent, start_run("acme", items, SyncOptions(prune=True), r=r, settings=deps.settings))
    assert deactivated(provider, before) == ["c3", "c30", "c31", "c60", "c99"]
    assert doc["prune"] == {"candidates": 5, "submitted": 5, "succeeded": 5, "failed": 0, "refused": None}
    assert doc["counts"]["total"] == 95 and doc["counts"]["unchanged"] == 94 and doc["counts"]["invalid"] == 1
    # And a second prune finds nothing more: deactivated items are remembered as such
    before = len(provider.submissions)
    again = drain(deps, sent, start_run("acme", items, SyncOptions(prune=True), r=r, settings=deps.settings))
    assert deactivated(provider, before) == [] and again["prune"]["candidates"] == 0


def test_the_guard_refuses_a_mass_removal_visibly_unless_forced(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    drain(deps, sent, start_run("acme", catalog(100), r=r, settings=deps.settings))
    before = len(provider.submissions)
    truncated = catalog(70)  # an export that broke off: 30% gone
    doc = drain(
        deps, sent, start_run("acme", truncated, SyncOptions(prune=True), r=r, settings=deps.settings)
    )
    assert deactivated(provider, before) == []
    assert doc["state"] == "completed_with_errors"
    assert doc["prune"]["refused"].startswith("pruning refused: 30 of 100 items (30%)")
    forced = drain(
        deps,
        sent,
        start_run("acme", truncated, SyncOptions(prune=True, force_prune=True), r=r, settings=deps.settings),
    )
    assert len(deactivated(provider, before)) == 30 and forced["state"] == "completed"


def test_an_unreadable_catalog_never_prunes(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], tmp_path: Path
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    drain(deps, sent, start_run("acme", catalog(20), r=r, settings=deps.settings))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "c1", "title": "T1", "url": "https://a.example"}, {"id": ')
    doc = run_document(
        r, start_run("acme", str(broken), SyncOptions(prune=True), r=r, settings=deps.settings)
    )
    assert doc is not None and doc["state"] == "failed" and "malformed JSON" in doc["reason"]
    assert doc["prune"]["candidates"] == 0 and not any(op == "deactivate" for op, _ in provider.submissions)


def test_a_catalog_line_that_names_no_item_id_refuses_pruning_even_when_forced(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], tmp_path: Path
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    drain(deps, sent, start_run("acme", catalog(20), r=r, settings=deps.settings))
    before = len(provider.submissions)
    # Given a catalog without c5 (gone) whose lines 3 and 8 name no item: c2's line is broken
    # JSON and c8's lost its id. Both are still in the catalog, yet look gone.
    lines = [json.dumps(i) for i in catalog(20, skip={5})]
    lines[2] = '{"id": "c2", "title": "T2", "url": '
    lines[7] = '{"title": "no id here", "url": "https://a.example"}'
    source = tmp_path / "catalog.jsonl"
    source.write_text("\n".join(lines) + "\n")
    reason = "pruning refused: 2 catalog records name no item id (lines 3, 8)"
    # When it is synced with pruning, even forced, or tried in a dry run
    forced = SyncOptions(prune=True, force_prune=True)
    doc = drain(deps, sent, start_run("acme", str(source), forced, r=r, settings=deps.settings))
    report = dry_run("acme", str(source), SyncOptions(prune=True), r=r, settings=deps.settings)
    # Then nothing is deactivated, and the run and the dry run say why
    assert deactivated(provider, before) == []
    assert doc["state"] == "completed_with_errors" and doc["prune"]["refused"].startswith(reason)
    assert doc["prune"]["candidates"] == 3 and doc["prune"]["submitted"] == 0  # c2, c5, c8
    assert report["pruned"] == 0 and report["prune_refused"].startswith(reason)


def test_dry_run_reports_without_sending_or_recording(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    drain(deps, sent, start_run("acme", catalog(50), r=r, settings=deps.settings))
    runs_before, sends_before = r.zcard(keys.RUNS_INDEX), len(provider.submissions)
    items = [
        *catalog(48),
        {"id": "new-1", "title": "N", "url": "https://a.example"},
        {"id": "bad", "url": "x"},
    ]
    items[0]["title"] = "changed"
    report = dry_run("acme", items, SyncOptions(prune=True), r=r, settings=deps.settings)
    assert {k: report[k] for k in ("created", "updated", "unchanged", "rejected", "pruned")} == {
        "created": 1, "updated": 1, "unchanged": 47, "rejected": 1, "pruned": 2,
    }  # fmt: skip
    assert report["errors"][0]["item_id"] == "bad"
    assert r.zcard(keys.RUNS_INDEX) == runs_before and len(provider.submissions) == sends_before and not sent


def test_a_connection_pointed_at_another_integration_sends_everything_there(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    first = drain(deps, sent, start_run("acme", catalog(30), r=r, settings=deps.settings))
    assert (
        drain(deps, sent, start_run("acme", catalog(30), r=r, settings=deps.settings))["counts"]["unchanged"]
        == 30
    )
    # When the connection's integration_id changes in the config file
    path = Path(os.environ["COURSESYNC_CONFIG"])
    path.write_text(CONFIG.replace('integration_id = "sandbox:x"', 'integration_id = "sandbox:y"'))
    os.utime(path, (path.stat().st_atime + 5, path.stat().st_mtime + 5))  # seen as a new file
    report = dry_run("acme", catalog(30), SyncOptions(prune=True), r=r, settings=deps.settings)
    moved = drain(
        deps, sent, start_run("acme", catalog(30), SyncOptions(prune=True), r=r, settings=deps.settings)
    )
    # Then the new target knows nothing yet: every item is sent there, nothing is pruned
    assert (report["created"], report["unchanged"], report["pruned"]) == (30, 0, 0)
    assert moved["counts"]["succeeded"] == 30 and moved["counts"]["unchanged"] == 0
    assert moved["prune"]["candidates"] == 0
    # And the run documents and the dry run name the target they diffed against
    assert first["target"] != moved["target"] == report["target"]
    assert moved["target_label"] == "kombo integration_id=sandbox:y at http://127.0.0.1:9/kombo/v1"


def test_a_due_schedule_is_skipped_while_its_last_run_goes_then_fires_again(
    r: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG + '[connections.acme.schedule]\nsource = "/data/c.jsonl"\nevery = "10s"\n')
    connections = list(load_connections(path).values())
    fired: list[tuple[str, str]] = []
    send = lambda conn, run_id: fired.append((conn, run_id))  # noqa: E731
    assert check_schedules(r, connections, send, now_s=1000)["acme"].startswith("started")
    assert check_schedules(r, connections, send, now_s=1005) == {}  # not due yet
    # the run reserved by the first firing is still going at the next due time
    r.hset(keys.run(fired[0][1]), mapping={"state": "running"})
    assert check_schedules(r, connections, send, now_s=1010)["acme"].startswith("skipped")
    r.hset(keys.run(fired[0][1]), mapping={"state": "completed"})
    assert check_schedules(r, connections, send, now_s=1020)["acme"].startswith("started")
    assert len(fired) == 2
    state = r.hgetall(keys.schedule_state("acme"))
    assert state["fired"] == "2" and state["skipped"] == "1"
