"""A connection created at runtime, while the worker and beat run: synced with its sealed
credential, then broken by an update of that credential, each change seen without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline
from workers.connection_store import put_connection
from workers.ledger import item_errors
from workers.providers import registry

pytestmark = pytest.mark.integration

SECRET_KEY = "it-connection-store-key-31"
#: A little over the workers' connections_refresh_s (1 s): every process has seen the change.
SEEN_S = 1.5


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    return start_pipeline(env={"COURSESYNC_SECRET_KEY": SECRET_KEY})


def table(url: str, api_key: str) -> dict[str, object]:
    return {
        "provider": "kombo",
        "base_url": f"{url}/kombo/v1",
        "api_key": api_key,
        "integration_id": "sandbox:coursesync-demo",
        "batch_size": 50,
    }


def items(prefix: str, n: int) -> list[dict[str, str]]:
    return [
        {"id": f"{prefix}-{i}", "title": f"T {i}", "url": f"https://learn.example/{prefix}/{i}"}
        for i in range(n)
    ]


def test_a_runtime_connection_syncs_then_fails_once_its_key_is_wrong(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    registry._Cache.key, registry._Cache.checked_at = None, float("-inf")
    url = pipeline.stack.sandbox_url
    # Given a connection created through the store while the fleet runs, with a plain key
    conn = put_connection(r, "api-kombo", table(url, "sandbox-kombo-key"), create_only=True)
    assert conn.source == "api"
    assert "sandbox-kombo-key" not in str(r.hgetall("cs:connections"))
    time.sleep(SEEN_S)
    # When a catalog is synced to it, then every item succeeds
    run_id = start_run("api-kombo", items("cs-ok", 120), SyncOptions(full=True), r=r)
    doc = pipeline.wait_for_run(r, run_id, timeout_s=120)
    assert doc["state"] == "completed", doc["errors"][:2]
    assert doc["counts"]["succeeded"] == 120
    # When its key is updated to one the provider refuses
    put_connection(r, "api-kombo", table(url, "wrong-kombo-key-e0"), expected_version=1)
    time.sleep(SEEN_S)
    run_id = start_run("api-kombo", items("cs-bad", 60), SyncOptions(full=True), r=r)
    doc = pipeline.wait_for_run(r, run_id, timeout_s=120)
    # Then the next run fails with the provider's authentication refusal
    assert doc["state"] == "failed", doc
    reasons = {e["message"] for e in item_errors(r, run_id) if e["stage"] == "provider"}
    assert reasons and all("401" in m for m in reasons), reasons
    logs = "".join(path.read_text() for path in pipeline.stack.workdir.glob("*.log"))
    assert "wrong-kombo-key-e0" not in logs and "sandbox-kombo-key" not in logs
