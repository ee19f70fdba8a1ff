"""StackOne end to end: real Redis, real Celery worker and beat, the sandbox's StackOne over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from coursesync.sample import sample_items
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline
from workers.ledger import item_errors
from workers.providers.stackone.answers import ITEM_REJECTED

pytestmark = pytest.mark.integration

KEY, ACCOUNT = "sandbox-stackone-key", "sandbox-account"
BATCH_SIZE = 100


def stackone_config(sandbox_url: str) -> str:
    return f"""
[connections.it-stackone]
provider = "stackone"
base_url = "{sandbox_url}/stackone"
api_key = "{KEY}"
account_id = "{ACCOUNT}"
batch_size = {BATCH_SIZE}
"""


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    # StackOne's real limit, 1000 requests/min per key, enforced by the sandbox.
    return start_pipeline(stackone_config, sandbox_args=["--stackone-rate-per-s", "16.7"])


def stored(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """Everything the sandbox's StackOne holds for the account, by external_reference."""
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "x-account-id": ACCOUNT}
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = "0"
    while cursor is not None:
        resp = httpx.get(
            pipeline.stack.sandbox_url + "/stackone/unified/lms/content",
            params={"page_size": 1000, "next": cursor},
            headers=headers,
            timeout=10,
        )
        resp.raise_for_status()
        found.update((c["external_reference"], c) for c in resp.json()["data"])
        cursor = resp.json()["next"]
    return found


def test_a_sample_catalog_ends_with_exact_counts_and_stackones_item_errors(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a catalog with invalid items and items StackOne's LMS refuses per item
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(2500, prefix="itso")
    before = pipeline.sandbox("/_sandbox/stats").get("stackone", {})
    # When it is synced through the real pipeline
    run_id = start_run("it-stackone", records, SyncOptions(full=True), r=r)
    doc = pipeline.wait_for_run(r, run_id, timeout_s=60)
    # Then every item ends in exactly one state, with the exact expected numbers
    c = doc["counts"]
    assert c["total"] == 2500
    assert (c["invalid"], c["succeeded"], c["failed"]) == (
        expected.invalid,
        expected.succeeded,
        expected.rejected,
    )
    assert c["pending"] == 0 and c["unchanged"] == 0
    assert c["total"] == c["invalid"] + c["unchanged"] + c["succeeded"] + c["failed"]
    assert doc["state"] == "completed_with_errors"
    assert doc["batches"]["completed"] == doc["batches"]["total"] == -(-expected.valid // BATCH_SIZE)
    # And the rejected items failed with StackOne's own per-item message
    provider_errors = [e for e in item_errors(r, run_id) if e["stage"] == "provider"]
    assert len(provider_errors) == expected.rejected
    assert all(
        e["code"] == ITEM_REJECTED and e["message"].startswith("content_url: the LMS could not resolve")
        for e in provider_errors
    )
    # And StackOne saw each batch exactly once (it has no job; a resent batch would show here)
    after = pipeline.sandbox("/_sandbox/stats")["stackone"]
    assert after["batches"] - before.get("batches", 0) == doc["batches"]["total"]
    assert after["items_received"] - before.get("items_received", 0) == expected.valid
    assert after["items_rejected"] - before.get("items_rejected", 0) == expected.rejected
    assert sum(1 for ref in stored(pipeline) if ref.startswith("itso-")) == expected.succeeded


def test_an_item_with_active_false_reaches_stackone_as_inactive_content(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two courses synced as active
    r = pipeline.use(monkeypatch)
    courses = [
        {"id": f"deact-{n}", "title": f"Course {n}", "url": f"https://learn.example/{n}", "languages": ["en"]}
        for n in (1, 2)
    ]
    first = pipeline.wait_for_run(r, start_run("it-stackone", courses, SyncOptions(), r=r), timeout_s=30)
    assert first["counts"]["succeeded"] == 2
    deactivated_before = pipeline.sandbox("/_sandbox/stats")["stackone"]["deactivated"]
    # When the next catalog marks one of them inactive
    run_id = start_run("it-stackone", [{**courses[0], "active": False}], SyncOptions(), r=r)
    doc = pipeline.wait_for_run(r, run_id, timeout_s=30)
    # Then it went out as an upsert with active: false and StackOne holds it as inactive
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 1
    content = stored(pipeline)
    assert content["deact-1"]["active"] is False and content["deact-2"]["active"] is True
    assert content["deact-1"]["languages"] == [{"value": "en_US"}]
    assert pipeline.sandbox("/_sandbox/stats")["stackone"]["deactivated"] == deactivated_before + 1
