"""Cancel a run and pause a connection mid-run through the served API: real Redis, the API
process, Celery worker and beat, sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import redis

from tests.integration.conftest import Pipeline, kombo_config
from workers.ledger import CANCELLED, item_errors, run_document

pytestmark = pytest.mark.integration

BULK_ROUTE = "/lms/courses/bulk"


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    # Slow enough that a run is still in flight when the test acts: 2 requests a second, jobs
    # that take 2 s at the provider, batches of 50.
    return start_pipeline(
        config=lambda url: kombo_config(url, batch_size=50, requests_per_minute=120),
        sandbox_args=["--kombo-pending-s", "2"],
    )


def items(n: int, prefix: str) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "title": f"T{i}", "url": f"https://a.example/{i}"} for i in range(n)]


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Any:
    r = redis.Redis.from_url(pipeline.env["COURSESYNC_REDIS_URL"], decode_responses=True)
    from api.tokens import create_token

    token, _ = create_token(r, name="ops", scopes=["write"], connections=["it-kombo"])
    r.close()
    base = pipeline.stack.start_api()
    with httpx.Client(base_url=base + "/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        yield c


def upload(api: httpx.Client, catalog: list[dict[str, Any]]) -> str:
    body = b"".join(orjson.dumps(item) + b"\n" for item in catalog)
    resp = api.post("/connections/it-kombo/runs", params={"full": "true"}, content=body,
                    headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    return str(resp.json()["run_id"])


def bulk_posts(pipeline: Pipeline, since: float) -> list[float]:
    log = pipeline.sandbox(f"/_sandbox/requests?since={since}")
    log = log["requests"] if isinstance(log, dict) else log
    return [e[0] for e in log if e[1] == "kombo" and e[2] == "POST" and e[3] == BULK_ROUTE]


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def batches(r: redis.Redis, run_id: str) -> dict[str, int]:
    doc = run_document(r, run_id)
    assert doc is not None
    return doc["batches"]  # type: ignore[no-any-return]


def test_cancel_mid_run_sends_nothing_more_and_ends_cancelled_with_exact_counts(
    pipeline: Pipeline, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    n = 1000
    started = time.time()
    run_id = upload(api, items(n, "cx"))
    # Given a run with batches at the provider and many more still waiting
    wait_until(
        lambda: batches(r, run_id)["submitted"] + batches(r, run_id)["completed"] >= 2, 60, "a submission"
    )
    # When it is cancelled
    doc = api.post(f"/runs/{run_id}/cancel").json()
    cancelled_at = time.time()
    assert doc["cancel"]["not_sent"] > 0, doc
    sending = doc["cancel"]["in_flight"] - doc["batches"]["submitted"]  # requests on their way
    # Then the run ends cancelled, every item counted once
    final = pipeline.wait_for_run(r, run_id, timeout_s=120)
    c = final["counts"]
    assert final["state"] == "cancelled"
    assert c["pending"] == 0 and c["total"] == n
    assert c["succeeded"] + c["failed"] == c["total"] - c["invalid"] - c["unchanged"]
    errors = list(item_errors(r, run_id))
    cancelled = {e["item_id"] for e in errors if e["code"] == CANCELLED}
    assert len(cancelled) >= doc["cancel"]["not_sent_items"] and len(cancelled) == c["failed"]
    # And no bulk request reached the sandbox after the cancel, but those already on their way
    late = [t for t in bulk_posts(pipeline, started) if t > cancelled_at]
    assert len(late) <= sending, (late, doc["cancel"])
    # And every item counted succeeded is held by the LMS; no cancelled one is
    held = set(pipeline.sandbox("/_sandbox/held?provider=kombo")["kombo"])
    succeeded = {f"cx-{i}" for i in range(n)} - {e["item_id"] for e in errors}
    assert len(succeeded) == c["succeeded"] and succeeded <= held
    assert not cancelled & held


def test_pause_mid_run_sends_nothing_until_resumed_and_then_completes(
    pipeline: Pipeline, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    n = 800
    run_id = upload(api, items(n, "px"))
    wait_until(lambda: batches(r, run_id)["submitted"] >= 1, 60, "a submission")
    # When the connection is paused mid-run
    assert api.post("/connections/it-kombo/pause").json() == {"connection": "it-kombo", "paused": True}
    try:
        # (a request already on its way may still land)
        time.sleep(1.5)
        quiet_from = time.time()
        # Then the jobs already at the provider are polled to their end...
        wait_until(lambda: batches(r, run_id)["submitted"] == 0, 30, "the running jobs to end")
        doc = api.get(f"/runs/{run_id}").json()
        assert doc["state"] == "paused" and doc["paused"] is True
        assert api.get("/connections/it-kombo").json()["paused"] is True
        assert doc["batches"]["pending"] > 0 and doc["counts"]["succeeded"] > 0
        time.sleep(4)
        # ...and no bulk request reaches the provider while paused
        assert bulk_posts(pipeline, quiet_from) == []
        doc = run_document(r, run_id)
        assert doc is not None and doc["state"] == "paused" and doc["batches"]["pending"] > 0
    finally:
        api.post("/connections/it-kombo/resume")
    # When it is resumed, the run goes on and completes
    final = pipeline.wait_for_run(r, run_id, timeout_s=120)
    assert final["state"] == "completed" and final["counts"]["succeeded"] == n
    assert "paused" not in final
