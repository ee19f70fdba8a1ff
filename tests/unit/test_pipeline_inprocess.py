"""The pipeline's plain functions on a real Redis with the fake provider: exact counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from coursesync.sample import sample_items
from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps, record_client_and_grant
from workers import keys
from workers.deps import Deps
from workers.errors import AuthError, ProviderUnavailable
from workers.ledger import item_errors, run_document
from workers.poller import sweep
from workers.providers.fake import FakeProvider
from workers.submit import submit_batch

CONFIG = """
[connections.acme]
provider = "kombo"
base_url = "http://127.0.0.1:9/kombo/v1"
api_key = "env:ACME_KEY"
integration_id = "sandbox:x"
batch_size = 100
requests_per_minute = 600000
"""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Capture what would go to Celery; the test plays the worker."""
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def drain(deps: Deps, sent: list[str], run_id: str, rounds: int = 200) -> dict[str, Any]:
    for _ in range(rounds):
        while sent:
            submit_batch(sent.pop(0), deps)
        due = {m: 0 for m in deps.r.zrange(keys.JOBS_DUE, 0, -1)}
        if due:
            deps.r.zadd(keys.JOBS_DUE, due)
        sweep(deps)
        for bid in deps.r.zrange(keys.DEFERRED, 0, -1):
            deps.r.zrem(keys.DEFERRED, bid)
            sent.append(bid)
        doc = run_document(deps.r, run_id)
        assert doc is not None
        if doc["state"] not in ("queued", "running"):
            return doc
    raise AssertionError(f"run did not finish: {run_document(deps.r, run_id)}")


def test_sample_catalog_ends_with_exact_counts(r: redis.Redis, raw_r: redis.Redis, sent: list[str]) -> None:
    records, expected = sample_items(1000)
    rejected = {
        rec["id"] for rec in records if isinstance(rec, dict) and rec["url"].endswith(".invalid/course")
    }
    deps = make_deps(r, raw_r, FakeProvider(reject=rejected))
    run_id = start_run("acme", records, SyncOptions(), r=r, settings=deps.settings)
    doc = drain(deps, sent, run_id)
    c = doc["counts"]
    assert c == {
        "total": 1000, "invalid": expected.invalid, "unchanged": 0, "excluded": 0, "submitted": expected.valid,
        "succeeded": expected.succeeded, "failed": expected.rejected, "pending": 0,
    }  # fmt: skip
    assert doc["state"] == "completed_with_errors"
    assert doc["batches"]["completed"] == doc["batches"]["total"] == 10
    errors = list(item_errors(r, run_id))
    assert {e["item_id"] for e in errors if e["stage"] == "provider"} == rejected
    assert sum(1 for e in errors if e["stage"] == "validation") >= expected.invalid


def test_a_second_sync_of_the_same_catalog_sends_nothing(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    items = [{"id": f"c{i}", "title": f"T{i}", "url": f"https://a.example/{i}"} for i in range(250)]
    provider = FakeProvider()
    deps = make_deps(r, raw_r, provider)
    drain(deps, sent, start_run("acme", items, r=r, settings=deps.settings))
    first_sends = len(provider.submissions)
    items[7]["title"] = "changed"
    doc = drain(deps, sent, start_run("acme", items, r=r, settings=deps.settings))
    assert doc["counts"]["unchanged"] == 249 and doc["counts"]["succeeded"] == 1
    assert provider.submissions[first_sends:] == [("upsert", ["c7"])]
    assert doc["state"] == "completed"


def test_transient_errors_are_retried_and_permanent_ones_fail_the_batch_with_the_reason(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    items = [{"id": f"c{i}", "title": "T", "url": "https://a.example"} for i in range(300)]
    provider = FakeProvider(
        errors=[
            ProviderUnavailable("503 from the load balancer", status_code=503),
            AuthError("bad key", status_code=401),
        ]
    )
    deps = make_deps(r, raw_r, provider)
    doc = drain(deps, sent, start_run("acme", items, r=r, settings=deps.settings))
    assert doc["counts"]["succeeded"] == 200 and doc["counts"]["failed"] == 100
    assert doc["batches"] == {
        "total": 3,
        "pending": 0,
        "submitted": 0,
        "completed": 2,
        "failed": 1,
        "split": 0,
    }
    reasons = {e["message"] for e in doc["errors"]}
    assert reasons == {"HTTP 401: bad key"}


def test_a_duplicate_delivery_of_a_submitted_batch_sends_nothing_more(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    provider = FakeProvider(pending_polls=100)
    deps = make_deps(r, raw_r, provider)
    start_run("acme", [{"id": "a", "title": "T", "url": "https://a.example"}], r=r, settings=deps.settings)
    batch_id = sent[0]
    assert submit_batch(batch_id, deps) == "submitted"
    assert submit_batch(batch_id, deps) == "skipped"
    assert len(provider.submissions) == 1


def test_an_empty_catalog_fails_the_run_with_a_reason(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    deps = make_deps(r, raw_r, FakeProvider())
    doc = run_document(r, start_run("acme", [], r=r, settings=deps.settings))
    assert doc is not None and doc["state"] == "failed" and doc["reason"] == "the catalog holds no items"


def test_the_provider_client_is_built_before_the_request_is_granted(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker's first client for a connection takes 50-150 ms to build on a busy host: built
    # after the grant, its request would leave that late and reach the provider together with
    # the requests granted since (a sliding window of 30 per 10 s allows 204 ms).
    provider = FakeProvider()
    deps, order = record_client_and_grant(monkeypatch, make_deps(r, raw_r, provider), provider)
    start_run("acme", [{"id": "a", "title": "T", "url": "https://a.example"}], r=r, settings=deps.settings)
    assert submit_batch(sent.pop(0), deps) in ("submitted", "settled")
    assert order[:2] == ["client", "grant"]
