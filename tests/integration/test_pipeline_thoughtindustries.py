"""Thought Industries end to end: real Redis, Celery worker and beat, the sandbox over HTTP.

Two connections share one sandbox: one writes its CSV assets into a local directory
(``file://``), the other PUTs them to the sandbox's asset endpoint (http).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from coursesync.sample import sample_items
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline
from workers.ledger import item_errors
from workers.providers.thoughtindustries.assumptions import DEACTIVATION_UNSUPPORTED

pytestmark = pytest.mark.integration

BATCH = 250
COUNTERS = ("imports", "dry_runs", "jobs_created", "items_received", "idempotent_replays", "assets_stored")


def ti_config(assets: Path) -> Callable[[str], str]:
    def config(sandbox_url: str) -> str:
        common = f"""provider = "thoughtindustries"
base_url = "{sandbox_url}/thoughtindustries"
api_key = "env:IT_TI_KEY"
content = "courseGroup/webinar"
batch_size = {BATCH}
requests_per_minute = 6000"""
        return f"""
[connections.it-ti-file]
{common}
asset_store = "file://{assets}"

[connections.it-ti-http]
{common}
asset_store = "{sandbox_url}/thoughtindustries/assets"
dry_run_first = true
"""

    return config


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ti-assets")


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline], assets: Path) -> Pipeline:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IT_TI_KEY", "ti_test_sandbox")  # inherited by the worker processes
        return start_pipeline(ti_config(assets), sandbox_args=["--ti-pending-s", "0.5"])


def stats_delta(pipeline: Pipeline, before: dict[str, Any]) -> dict[str, int]:
    after = pipeline.sandbox("/_sandbox/stats")["thoughtindustries"]
    return {k: after[k] - before["thoughtindustries"][k] for k in COUNTERS}


def sync(pipeline: Pipeline, r: redis.Redis, connection: str, records: list[Any], full: bool = True) -> Any:
    run_id = start_run(connection, records, SyncOptions(full=full), r=r)
    return run_id, pipeline.wait_for_run(r, run_id, timeout_s=60)


def inactive(n: int) -> list[dict[str, Any]]:
    return [
        {"id": f"ti-off-{i}", "title": "Retired", "url": "https://learn.example/off", "active": False}
        for i in range(n)
    ]


@pytest.mark.parametrize("connection", ["it-ti-file", "it-ti-http"])
def test_two_thousand_items_end_with_exact_counts_and_dry_run_reasons(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, assets: Path, connection: str
) -> None:
    # Given a catalog with invalid items, inactive items and items the sandbox's dry run refuses
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(2000, prefix=connection)
    records += inactive(3)
    rejected_ids = {x["id"] for x in records if isinstance(x, dict) and ".invalid/" in str(x.get("url"))}
    before = pipeline.sandbox("/_sandbox/stats")
    # When it is synced through the real pipeline
    run_id, doc = sync(pipeline, r, connection, records)
    # Then every item ends in exactly one state, with the exact expected numbers
    c = doc["counts"]
    assert c["total"] == 2003
    assert c["invalid"] == expected.invalid + 3
    assert c["succeeded"] == expected.succeeded
    assert c["failed"] == expected.rejected == len(rejected_ids)
    assert c["pending"] == 0 and c["unchanged"] == 0
    assert c["total"] == c["invalid"] + c["unchanged"] + c["succeeded"] + c["failed"]
    batches = -(-expected.valid // BATCH)
    assert doc["batches"]["completed"] == doc["batches"]["total"] == batches
    # And exactly the refused rows failed, each with the sandbox's own reason
    errors = list(item_errors(r, run_id))
    provider_errors = {e["item_id"]: e for e in errors if e["stage"] == "provider"}
    assert set(provider_errors) == rejected_ids
    for e in provider_errors.values():
        assert e["code"] == "INVALID_ROW"
        assert re.fullmatch(r"url host 'gone-\d+\.invalid' does not resolve\.", e["message"]), e
    off = [e for e in errors if e["item_id"].startswith("ti-off-")]
    assert len(off) == 3 and all(DEACTIVATION_UNSUPPORTED in e["message"] for e in off)
    # And each batch was one dry run and one import job, none twice
    delta = stats_delta(pipeline, before)
    assert delta["dry_runs"] == delta["imports"] == delta["jobs_created"] == batches
    assert delta["idempotent_replays"] == 0
    assert delta["items_received"] == expected.succeeded
    if connection == "it-ti-file":  # a full asset per batch, and one of only its valid rows
        names = [p.name for p in assets.iterdir()]
        assert all(n.endswith(".csv") for n in names), names  # no temporary file left behind
        assert len(names) == 2 * batches
        assert delta["assets_stored"] == 0
    else:
        assert delta["assets_stored"] == 2 * batches


def test_a_resync_sends_only_what_was_not_confirmed_and_imports_nothing_new(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a catalog synced once, whose refused items are still broken
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(600, prefix="ti-resync")
    sync(pipeline, r, "it-ti-file", records)
    before = pipeline.sandbox("/_sandbox/stats")
    # When it is synced again without --full
    _, doc = sync(pipeline, r, "it-ti-file", records, full=False)
    # Then confirmed items are unchanged; the refused ones fail again in a dry run, no import runs
    c = doc["counts"]
    assert (c["unchanged"], c["failed"], c["succeeded"]) == (expected.succeeded, expected.rejected, 0)
    delta = stats_delta(pipeline, before)
    assert (delta["dry_runs"], delta["jobs_created"]) == (1, 0)
