"""Resyncs on the real pipeline: nothing unchanged is sent, pruning deactivates, beat schedules."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline, kombo_config
from workers import keys
from workers.ledger import run_document

pytestmark = pytest.mark.integration


def items(n: int, prefix: str = "rs") -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "title": f"Course {i}", "url": f"https://a.example/{i}"} for i in range(n)
    ]


def kombo_stats(pipeline: Pipeline) -> dict[str, int]:
    return dict(pipeline.sandbox("/_sandbox/stats").get("kombo", {}))


def test_an_unchanged_resync_sends_nothing_and_a_change_sends_just_that(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=1000, requests_per_minute=60_000)
    )
    r = pipeline.use(monkeypatch)
    catalog = items(10_000)
    first = pipeline.wait_for_run(r, start_run("it-kombo", catalog, r=r))
    assert first["counts"]["succeeded"] == 10_000
    sent_before = kombo_stats(pipeline)["items_received"]
    # When the same catalog is synced again
    second = pipeline.wait_for_run(r, start_run("it-kombo", catalog, r=r))
    # Then nothing reaches the provider and the run says why
    assert kombo_stats(pipeline)["items_received"] == sent_before
    assert second["state"] == "completed" and second["counts"]["unchanged"] == 10_000
    assert second["batches"]["total"] == 0
    # When 100 items change, exactly those 100 are sent
    for i in range(0, 10_000, 100):
        catalog[i]["title"] += " (2nd edition)"
    third = pipeline.wait_for_run(r, start_run("it-kombo", catalog, r=r))
    assert third["counts"]["succeeded"] == 100 and third["counts"]["unchanged"] == 9_900
    assert kombo_stats(pipeline)["items_received"] == sent_before + 100


def test_prune_deactivates_removed_courses_at_kombo_and_the_guard_holds(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = start_pipeline(config=lambda url: kombo_config(url, requests_per_minute=60_000))
    r = pipeline.use(monkeypatch)
    pipeline.wait_for_run(r, start_run("it-kombo", items(200, "pr"), r=r))
    # When 10 courses leave the catalog and the sync mirrors it
    gone = {f"pr-{n}" for n in range(7, 100, 10)}
    kept = [i for i in items(200, "pr") if i["id"] not in gone]
    doc = pipeline.wait_for_run(r, start_run("it-kombo", kept, SyncOptions(prune=True), r=r))
    assert doc["prune"]["succeeded"] == len(gone) and doc["state"] == "completed"
    # Then exactly those are INACTIVE in the LMS
    listed = httpx.get(
        pipeline.stack.sandbox_url + "/kombo/v1/lms/courses",
        params={"page_size": 250},
        headers={"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": "sandbox:coursesync-demo"},
    ).json()["data"]["results"]
    inactive = {c["origin_id"] for c in listed if c["revisions"][0]["status"] == "INACTIVE"}
    assert inactive == gone
    # And a catalog that lost half its courses is refused, visibly
    refused = pipeline.wait_for_run(r, start_run("it-kombo", kept[:90], SyncOptions(prune=True), r=r))
    assert refused["state"] == "completed_with_errors" and "pruning refused" in refused["prune"]["refused"]
    assert refused["prune"]["submitted"] == 0


def kombo_courses(pipeline: Pipeline, integration: str) -> dict[str, str]:
    """origin_id -> status of every course the sandbox's Kombo holds in ``integration``."""
    found: dict[str, str] = {}
    cursor: str | None = "0"
    while cursor is not None:
        data = httpx.get(
            pipeline.stack.sandbox_url + "/kombo/v1/lms/courses",
            params={"page_size": 250, "cursor": cursor},
            headers={"Authorization": "Bearer sandbox-kombo-key", "X-Integration-Id": integration},
            timeout=10,
        ).json()["data"]
        found.update({c["origin_id"]: c["revisions"][0]["status"] for c in data["results"]})
        cursor = data["next"]
    return found


def test_a_connection_moved_to_another_integration_sends_every_item_there(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, requests_per_minute=60_000),
        sandbox_args=[
            "--kombo-pending-s",
            "0.5",
            "--kombo-integrations",
            "sandbox:coursesync-demo",
            "sandbox:moved",
        ],
    )
    r = pipeline.use(monkeypatch)
    catalog = items(600, "mv")
    first = pipeline.wait_for_run(r, start_run("it-kombo", catalog, r=r))
    assert first["counts"]["succeeded"] == 600
    assert pipeline.wait_for_run(r, start_run("it-kombo", catalog, r=r))["counts"]["unchanged"] == 600
    # When the connection's integration_id changes in the config file, the catalog unchanged
    text = pipeline.config.read_text()
    pipeline.config.write_text(text.replace('"sandbox:coursesync-demo"', '"sandbox:moved"'))
    moved = pipeline.wait_for_run(r, start_run("it-kombo", catalog, r=r))
    # Then every item is sent again, to the new integration, which now holds them all
    assert moved["state"] == "completed" and moved["counts"]["succeeded"] == 600
    assert moved["counts"]["unchanged"] == 0 and moved["target"] != first["target"]
    assert "integration_id=sandbox:moved" in moved["target_label"]
    assert kombo_courses(pipeline, "sandbox:moved") == dict.fromkeys((i["id"] for i in catalog), "ACTIVE")
    # And pruning there deactivates by the Kombo ids the new integration gave
    gone = {f"mv-{n}" for n in range(0, 600, 100)}
    kept = [i for i in catalog if i["id"] not in gone]
    pruned = pipeline.wait_for_run(r, start_run("it-kombo", kept, SyncOptions(prune=True), r=r))
    assert pruned["state"] == "completed" and pruned["prune"]["succeeded"] == len(gone)
    assert {k for k, v in kombo_courses(pipeline, "sandbox:moved").items() if v == "INACTIVE"} == gone
    assert set(kombo_courses(pipeline, "sandbox:coursesync-demo").values()) == {"ACTIVE"}


def test_a_catalog_with_an_unparseable_line_refuses_to_prune(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pipeline = start_pipeline(config=lambda url: kombo_config(url, requests_per_minute=60_000))
    r = pipeline.use(monkeypatch)
    pipeline.wait_for_run(r, start_run("it-kombo", items(100, "up"), r=r))
    # Given a catalog without up-50 whose line 10 (up-9) is cut short
    lines = [json.dumps(i) for i in items(100, "up") if i["id"] != "up-50"]
    lines[9] = lines[9][:25]
    source = tmp_path / "catalog.jsonl"
    source.write_text("\n".join(lines) + "\n")
    # When it is synced with pruning
    doc = pipeline.wait_for_run(r, start_run("it-kombo", str(source), SyncOptions(prune=True), r=r))
    # Then nothing is deactivated, visibly: up-9 is still in the catalog
    assert doc["state"] == "completed_with_errors" and doc["prune"]["submitted"] == 0
    assert doc["prune"]["refused"].startswith("pruning refused: 1 catalog record names no item id (line 10)")
    assert doc["counts"]["invalid"] == 1 and doc["counts"]["unchanged"] == 98
    assert set(kombo_courses(pipeline, "sandbox:coursesync-demo").values()) == {"ACTIVE"}


def test_a_scheduled_resync_fires_from_beat_and_is_skipped_while_the_last_one_runs(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "catalog.jsonl"
    source.write_text("\n".join(json.dumps(i) for i in items(50, "sched")))
    schedule = f'\n[connections.it-kombo.schedule]\nsource = "{source}"\nevery = "2s"\nfull = true\n'
    # Given remote tasks that take 6 s, and a schedule every 2 s
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, requests_per_minute=60_000) + schedule,
        sandbox_args=["--kombo-pending-s", "6"],
    )
    r = pipeline.use(monkeypatch)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and int(r.hget(keys.schedule_state("it-kombo"), "fired") or 0) < 2:
        time.sleep(0.5)
    state = r.hgetall(keys.schedule_state("it-kombo"))
    # Then beat started runs, skipped the firings that came while one was going, never stacked them
    assert int(state.get("fired", 0)) >= 2 and int(state.get("skipped", 0)) >= 1
    docs = [run_document(r, str(run_id)) for run_id in r.zrange(keys.RUNS_INDEX, 0, -1)]
    scheduled = sorted(
        (d for d in docs if d and d["options"]["trigger"] == "schedule"), key=lambda d: d["created_at"]
    )
    assert len(scheduled) >= 2
    first, second = scheduled[0], scheduled[1]
    assert first["finished_at"] is not None and first["finished_at"] <= second["created_at"]
