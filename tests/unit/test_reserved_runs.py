"""Runs the API records before a worker reads their catalog: they always lead somewhere."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import redis

from producers.run_starts import start_reserved_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys, ledger
from workers.doctor import examine
from workers.providers.fake import FakeProvider


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def _reserve(r: redis.Redis, source: str, grace_s: float, **options: object) -> str:
    run_id = ledger.new_run_id()
    ledger.reserve_run(r, run_id=run_id, connection="acme", provider="kombo", retention_s=3600,
                       grace_s=grace_s, options={"trigger": "api", **options}, source=source)  # fmt: skip
    return run_id


def test_a_reserved_run_is_read_from_its_record_and_an_uploaded_catalog_removed(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    catalog = uploads / "r_x.jsonl"
    catalog.write_text("".join(json.dumps({"id": f"c{i}", "title": "T", "url": "https://a.example/x"}) + "\n"
                               for i in range(120)))  # fmt: skip
    deps = make_deps(r, raw_r, FakeProvider())
    run_id = _reserve(r, str(catalog), 600, full=True, format="jsonl")
    assert ledger.run_document(r, run_id)["state"] == "queued"  # type: ignore[index]
    assert examine(r, deps.settings).silent_runs_ended == []  # within its grace: left alone
    settings = dataclasses.replace(deps.settings, catalog_dir=str(uploads))
    start_reserved_run(run_id, r=r, settings=settings, send=deps.send)
    doc = drain(deps, sent, run_id)
    assert (doc["state"], doc["counts"]["succeeded"]) == ("completed", 120)
    assert doc["options"]["full"] is True and doc["options"]["trigger"] == "api"
    assert not catalog.exists()


def test_a_reserved_run_no_worker_starts_is_ended_by_the_doctor_and_stays_ended(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], tmp_path: Path
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    catalog = tmp_path / "c.jsonl"
    catalog.write_text(json.dumps({"id": "a", "title": "T", "url": "https://a.example/x"}) + "\n")
    run_id = _reserve(r, str(catalog), 600)
    r.zadd(keys.OPEN_RUNS, {run_id: 0})  # its grace is long past
    assert examine(r, deps.settings).silent_runs_ended == [run_id]
    doc = ledger.run_document(r, run_id)
    assert doc is not None and doc["state"] == "failed" and doc["reason"]
    # A worker that picks the task up after all does not reopen it.
    start_reserved_run(run_id, r=r, settings=deps.settings, send=deps.send)
    assert ledger.run_document(r, run_id) == doc


def test_a_second_start_of_a_reserved_run_whose_producer_is_reading_does_nothing(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], tmp_path: Path
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    catalog = tmp_path / "c.jsonl"
    catalog.write_text(json.dumps({"id": "a", "title": "T", "url": "https://a.example/x"}) + "\n")
    run_id = _reserve(r, str(catalog), 600)
    # Given its task delivered twice, the first start reading the catalog right now
    assert ledger.claim_start(r, run_id)
    # When the second one starts, it reads nothing and sends nothing
    start_reserved_run(run_id, r=r, settings=deps.settings, send=deps.send)
    assert sent == []
    doc = ledger.run_document(r, run_id)
    assert doc is not None and doc["state"] == "queued" and doc["counts"]["total"] == 0
