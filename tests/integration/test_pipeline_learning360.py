"""360Learning end to end: real Redis, real Celery worker and beat, the sandbox over HTTP.

The connection gives an ``integration`` table, so the fleet creates the integration itself, and
its credentials come from the environment, as in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from coursesync.sample import sample_items
from producers.sync import SyncOptions, start_run
from schemas.course import Course, validate_item
from tests.integration.conftest import Pipeline
from workers import keys
from workers.ledger import item_errors

pytestmark = pytest.mark.integration

SECRETS = {"IT_L360_CLIENT_ID": "sandbox-360-client", "IT_L360_CLIENT_SECRET": "sandbox-360-secret"}
#: The 1,950 valid items make 3 upsert operations, running at once: 360Learning's limit per company.
BATCH_SIZE = 250  # more operations than the 3 360Learning runs at once: slots must turn over


def l360_config(sandbox_url: str) -> str:
    return f"""
[connections.it-360]
provider = "360learning"
base_url = "{sandbox_url}/360learning"
client_id = "env:IT_L360_CLIENT_ID"
client_secret = "env:IT_L360_CLIENT_SECRET"
batch_size = {BATCH_SIZE}

[connections.it-360.integration]
external_platform = "coursesync-it"
group_id = "5f1a2b3c4d5e6f7a8b9c0d1e"
author_id = "5f1a2b3c4d5e6f7a8b9c0d1f"
"""


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Iterator[Pipeline]:
    # The worker processes inherit this environment when they start.
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SECRETS.items():
            mp.setenv(name, value)
        yield start_pipeline(l360_config, sandbox_args=["--l360-pending-s", "0.5"])


def stats(pipeline: Pipeline) -> dict[str, Any]:
    section: dict[str, Any] = pipeline.sandbox("/_sandbox/stats")["360learning"]
    return section


def redis_text(r: redis.Redis) -> str:
    """Every key and value in Redis, to search for secrets."""
    read = {"string": r.get, "hash": r.hgetall, "list": lambda k: r.lrange(k, 0, -1), "set": r.smembers,
            "zset": lambda k: r.zrange(k, 0, -1)}  # fmt: skip
    return "\n".join(f"{k}={read[r.type(k)](k)}" for k in r.scan_iter(count=1000) if r.type(k) in read)


def test_two_thousand_items_end_with_exact_counts(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a catalog with invalid items and items 360Learning refuses (unresolvable launchUrl)
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(2000, prefix="it360")
    before = stats(pipeline)
    # When it is synced through the real pipeline
    run_id = start_run("it-360", records, SyncOptions(full=True), r=r)
    doc = pipeline.wait_for_run(r, run_id, timeout_s=60)
    # Then every item ends in exactly one state, with the exact expected numbers
    c = doc["counts"]
    assert (c["total"], c["invalid"], c["unchanged"], c["pending"]) == (2000, expected.invalid, 0, 0)
    assert (c["succeeded"], c["failed"]) == (expected.succeeded, expected.rejected)
    assert c["total"] == c["invalid"] + c["unchanged"] + c["succeeded"] + c["failed"]
    assert doc["state"] == "completed_with_errors"
    assert doc["batches"]["completed"] == doc["batches"]["total"] == -(-expected.valid // BATCH_SIZE)
    # And refused items failed with 360Learning's own message
    provider_errors = [e for e in item_errors(r, run_id) if e["stage"] == "provider"]
    assert len(provider_errors) == expected.rejected
    assert all(e["code"] == "itemError" and "does not resolve" in e["message"] for e in provider_errors)
    # And one bulk operation per batch, one integration and one token for the whole fleet
    after = stats(pipeline)
    assert after["operations_created"] - before["operations_created"] == doc["batches"]["total"]
    assert after["items_received"] - before["items_received"] == expected.valid
    assert (after["integrations_created"], after["tokens_issued"]) == (1, 1)
    # And neither the token nor the secret is in Redis in clear
    assert r.get(keys.oauth_token("it-360")) and r.get(keys.integration_id("it-360"))
    assert SECRETS["IT_L360_CLIENT_SECRET"] not in redis_text(r)


def test_inactive_items_are_archived_and_unknown_ones_fail(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the valid items of the first test's catalog, now inactive; the refused ones were never created
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(2000, prefix="it360")
    inactive = [{**rec, "active": False} for rec in records if isinstance(validate_item(rec), Course)]
    before = stats(pipeline)
    # When they are synced
    run_id = start_run("it-360", inactive, SyncOptions(full=True), r=r)
    doc = pipeline.wait_for_run(r, run_id, timeout_s=60)
    # Then the known courses are archived, at most 1,000 per archive operation
    c = doc["counts"]
    assert (c["total"], c["succeeded"], c["failed"]) == (
        expected.valid,
        expected.succeeded,
        expected.rejected,
    )
    after = stats(pipeline)
    assert after["archived"] - before["archived"] == expected.succeeded
    assert after["operations_created"] - before["operations_created"] == doc["batches"]["total"] == 2
    assert all("No external course" in e["message"] for e in item_errors(r, run_id))
    # And 360Learning shows one of them archived
    integration = r.get(keys.integration_id("it-360"))
    base = pipeline.stack.sandbox_url + "/360learning"
    body = {"grant_type": "client_credentials", "client_id": SECRETS["IT_L360_CLIENT_ID"],
            "client_secret": SECRETS["IT_L360_CLIENT_SECRET"]}  # fmt: skip
    access = httpx.post(base + "/api/v2/oauth2/token", json=body, timeout=10).json()["access_token"]
    course = httpx.get(
        f"{base}/api/v2/integrations/{integration}/courses/it360-000000",
        headers={"Authorization": f"Bearer {access}", "360-api-version": "v2.0"},
        timeout=10,
    )
    assert course.status_code == 200 and course.headers["X-Sandbox-Archived"] == "true"
