"""Single-item changes, 100 a second through the served API, reach Kombo as a few bulk requests
(real API process, worker, beat, sandbox)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Pipeline, kombo_config
from workers.ledger import item_status

pytestmark = pytest.mark.integration

BULK_ROUTE = "/lms/courses/bulk"
DEACTIVATE_ROUTE = "/lms/courses/{course_id}/deactivate"


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline]) -> Pipeline:
    return start_pipeline(lambda url: kombo_config(url, batch_size=1000))


def requests(pipeline: Pipeline, since: float, route: str) -> list[Any]:
    log = pipeline.sandbox(f"/_sandbox/requests?since={since}")
    return [e for e in log if e[1] == "kombo" and e[2] == "POST" and e[3] == route]


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout_s} s: {what}")
        time.sleep(0.5)


def test_a_stream_of_one_item_changes_costs_a_few_bulk_requests_and_deletes_deactivate(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = pipeline.use(monkeypatch)
    from api.tokens import create_token

    token, _ = create_token(r, name="cms", scopes=["write"], connections=["it-kombo"])
    api = httpx.Client(base_url=pipeline.stack.start_api() + "/v1/connections/it-kombo",
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    started = time.time()
    ids = [f"chg-{i:04d}" for i in range(1000)]
    # Given 1,000 upserts, one per call, 100 a second for 10 s
    t0 = time.monotonic()
    for n, item_id in enumerate(ids):
        item = {"id": item_id, "title": f"Course {n}", "url": f"https://a.example/{item_id}"}
        receipt = api.post("/items", json={"upserts": [item]}).json()
        assert receipt["accepted"] == 1 and receipt["invalid"] == []
        time.sleep(max(0.0, t0 + (n + 1) / 100 - time.monotonic()))
    # Then every item ends succeeded, with the run that sent it and Kombo's id
    wait_for(
        lambda: all((s := item_status(r, "it-kombo", i)) and s["state"] == "succeeded" for i in ids),
        120,
        "every item succeeded",
    )
    answered = api.get(f"/items/{ids[7]}").json()
    assert answered["state"] == "succeeded" and answered["remote_id"] and answered["run_id"]
    statuses = [item_status(r, "it-kombo", i) for i in ids]
    assert all(s and s["run_id"] and s["remote_id"] for s in statuses)
    # And the sandbox saw a few bulk requests, not one per change (2 s windows over 10 s: ~5-6)
    posts = requests(pipeline, started, BULK_ROUTE)
    runs = {s["run_id"] for s in statuses if s}
    print(f"{len(posts)} bulk requests for 1,000 one-item changes over 10 s")
    assert 3 <= len(posts) <= 10, len(posts)
    assert len(runs) == len(posts)
    held = pipeline.sandbox("/_sandbox/held")
    assert set(ids) <= set(held["kombo"])

    # When 3 items are deleted, in one call
    gone = ids[:3]
    before_delete = time.time()
    receipt = api.post("/items", json={"deletes": gone}).json()
    assert receipt["accepted"] == 3
    wait_for(
        lambda: all((s := item_status(r, "it-kombo", i)) and s["state"] != "queued" for i in gone),
        60,
        "the deletes were sent",
    )
    # Then they were deactivated in one run. Kombo has no bulk deactivation (one course per
    # request: POST /lms/courses/{id}/deactivate; its spec's max_deactivate_items is 1), so the
    # run holds three one-item batches and the sandbox saw three deactivations, no bulk upsert
    deleted = [item_status(r, "it-kombo", i) for i in gone]
    assert all(s and s["state"] == "succeeded" and s["op"] == "deactivate" for s in deleted), deleted
    assert len({s["run_id"] for s in deleted if s}) == 1
    from workers.ledger import run_document

    doc = run_document(r, deleted[0]["run_id"])  # type: ignore[index]
    assert doc is not None and doc["batches"]["total"] == 3 and doc["counts"]["succeeded"] == 3
    assert len(requests(pipeline, before_delete, DEACTIVATE_ROUTE)) == 3
    assert requests(pipeline, before_delete, BULK_ROUTE) == []
    api.close()
