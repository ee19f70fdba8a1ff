"""The walking skeleton end to end: real Redis, real Celery worker and beat, sandbox over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from coursesync.sample import sample_items, write_sample
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline
from workers.ledger import item_errors

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    return start_pipeline()


def test_five_thousand_items_end_with_exact_counts(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a catalog with invalid items and items the sandbox LMS rejects
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(5000, prefix="it5k")
    before = pipeline.sandbox("/_sandbox/stats")
    # When it is synced through the real pipeline
    run_id = start_run("it-kombo", records, SyncOptions(full=True), r=r)
    doc = pipeline.wait_for_run(r, run_id)
    # Then every item ends in exactly one state, with the exact expected numbers
    c = doc["counts"]
    assert c["total"] == 5000
    assert c["invalid"] == expected.invalid
    assert c["succeeded"] == expected.succeeded
    assert c["failed"] == expected.rejected
    assert c["pending"] == 0 and c["unchanged"] == 0
    assert c["total"] == c["invalid"] + c["unchanged"] + c["succeeded"] + c["failed"]
    assert doc["state"] == "completed_with_errors"
    assert doc["batches"]["completed"] == doc["batches"]["total"] == -(-expected.valid // 250)
    provider_errors = [e for e in item_errors(r, run_id) if e["stage"] == "provider"]
    assert len(provider_errors) == expected.rejected
    assert all(e["code"] == "REMOTE.INPUT_INVALID" and ".invalid" in e["message"] for e in provider_errors)
    # And the sandbox saw each batch as exactly one task (no duplicate remote jobs)
    after = pipeline.sandbox("/_sandbox/stats")
    created = after["kombo"]["tasks_created"] - before.get("kombo", {}).get("tasks_created", 0)
    assert created == doc["batches"]["total"]


def test_cli_sync_wait_json_prints_the_run_document_and_exit_code(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    pipeline.use(monkeypatch)
    catalog = tmp_path / "catalog.jsonl"
    expected = write_sample(catalog, 600, prefix="itcli")
    env = {**pipeline.env, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "coursesync.cli", "sync", "it-kombo", str(catalog), "--json", "--timeout", "120"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # some items are invalid or rejected
    doc = json.loads(proc.stdout)
    assert doc["counts"]["succeeded"] == expected.succeeded
    assert doc["counts"]["invalid"] == expected.invalid
    status = subprocess.run(
        [sys.executable, "-m", "coursesync.cli", "status", doc["run_id"], "--items", "invalid"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0
    lines = status.stdout.strip().splitlines()
    assert len({line.split("\t")[0] for line in lines}) == expected.invalid
    assert any("url: must be an absolute http(s) URL" in line for line in lines)
    assert any("malformed JSON" in line for line in lines)


def test_upstreams_can_start_a_run_through_the_celery_task(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Given a catalog file the workers can read, and only a Celery client
    r = pipeline.use(monkeypatch)
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "id,title,url,languages\ncsv-1,One,https://a.example/1,en;fr\ncsv-2,Two,https://a.example/2,\n"
    )
    from celery import Celery

    client = Celery(broker=pipeline.env["COURSESYNC_REDIS_URL"], backend=pipeline.env["COURSESYNC_REDIS_URL"])
    client.conf.task_default_queue = "coursesync"
    # When it sends coursesync.sync_catalog(connection, source_url)
    run_id = client.send_task("coursesync.sync_catalog", args=("it-kombo", str(catalog))).get(timeout=60)
    # Then the task answers with the run id, and the run completes
    doc = pipeline.wait_for_run(r, run_id)
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 2
