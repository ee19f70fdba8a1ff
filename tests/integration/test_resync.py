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
from workers.store.runs import run_document

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
