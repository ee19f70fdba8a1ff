"""What the dashboard reads, on a real Redis: a run's timeline and its failures by reason, counted
where outcomes are recorded (once, however often an answer is processed), read back through the
API with tenants kept apart; runs by provider; items of one reason; a connection's status."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from api.app import create_app
from api.dashboard import STATIC
from producers.sync import SyncOptions, start_run
from tests.unit.helpers import configure_and_capture, make_deps
from tests.unit.test_api import CONFIG as API_CONFIG
from tests.unit.test_api import Sent, _client, _run
from tests.unit.test_pipeline_inprocess import CONFIG, drain
from workers import keys, ledger
from workers.config import Settings
from workers.ledger.reasons import failures, queue_reasons
from workers.metrics.record import count_response
from workers.metrics.timeline import count_settled, counting_for, read_timeline
from workers.providers.fake import FakeProvider
from workers.scheduler import next_due_s
from workers.schedules import Schedule


@pytest.fixture
def client(r: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    config = tmp_path / "coursesync.toml"
    config.write_text(API_CONFIG)
    monkeypatch.setenv("COURSESYNC_CONFIG", str(config))
    from workers.config import get_settings

    get_settings.cache_clear()
    return create_app(
        r, Settings(config=str(config), catalog_dir=str(tmp_path / "uploads")), Sent()
    ).test_client()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    return configure_and_capture(monkeypatch, tmp_path, CONFIG, {"ACME_KEY": "secret"})


def test_a_run_counts_its_outcomes_and_reasons_once_per_batch(
    r: redis.Redis, raw_r: redis.Redis, sent: list[str]
) -> None:
    # Given a run of 250 items of which 30 are refused by the provider and 5 are invalid
    provider = FakeProvider(reject={f"c{i}" for i in range(0, 300, 10)})
    deps = make_deps(r, raw_r, provider)
    items: list[dict[str, Any]] = [
        {"id": f"c{i}", "title": f"T{i}", "url": f"https://a.example/{i}"} for i in range(300)
    ]
    for i in range(5):
        items[i * 7 + 1]["url"] = "not a url"
    run_id = start_run("acme", items, SyncOptions(), r=r, settings=deps.settings)
    # When it is worked to its end
    doc = drain(deps, sent, run_id)
    # Then the timeline holds every settled item, in a few hash fields (one per batch outcome)
    points = read_timeline(r, run_id)["points"]
    assert sum(p["succeeded"] for p in points) == doc["counts"]["succeeded"] == 265
    assert sum(p["failed"] for p in points) == doc["counts"]["failed"] == 30
    assert r.hlen(keys.run_timeline(run_id)) <= 2 * 3 * 4
    # and the reasons count every error record, with a sample message each
    found = failures(r, since_ms=0).reasons
    by_code = {(f["stage"], f["code"], f["field"]): f for f in found}
    assert by_code[("provider", "REJECTED", "")]["count"] == 30
    assert by_code[("provider", "REJECTED", "")]["message"] == "rejected by the fake LMS"
    assert by_code[("validation", "invalid", "url")]["count"] == 5
    assert found[0]["code"] == "REJECTED" and found[0]["run_ids"] == [run_id]
    # and processing a batch's answer twice counts nothing more
    batch = ledger.load_batch(r, f"{run_id}-00000")
    assert batch is not None
    assert ledger.record_results(r, raw_r, batch, [], deps.settings) is None
    assert sum(p["failed"] for p in read_timeline(r, run_id)["points"]) == 30


def test_requests_count_on_the_run_they_were_made_for(r: redis.Redis) -> None:
    count_response(r, "acme", "kombo", 200)  # outside any run: the connection's counters only
    with counting_for("r_1", 60):
        count_response(r, "acme", "kombo", 200)
        count_response(r, "acme", "kombo", 429)
    points = read_timeline(r, "r_1")["points"]
    assert [(p["requests"], p["throttled"]) for p in points] == [(2, 1)]
    assert 0 < r.ttl(keys.run_timeline("r_1")) <= 60


def test_a_long_timeline_is_merged_into_at_most_120_points(r: redis.Redis) -> None:
    pipe = r.pipeline()
    now = time.time()
    for minute in range(600):  # ten hours, a batch a minute
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(time, "time", lambda m=minute: now + 60 * m)
            count_settled(pipe, "r_long", succeeded=10, failed=1, retention_s=60)
    pipe.execute()
    found = read_timeline(r, "r_long")
    assert len(found["points"]) <= 120 and found["bucket_s"] >= 300
    assert sum(p["succeeded"] for p in found["points"]) == 6000


def test_failures_across_runs_are_summed_per_reason_for_the_tokens_connections_only(
    client: Any, r: redis.Redis
) -> None:
    ours = [_run(r, "acme-kombo", "completed_with_errors") for _ in range(3)]
    theirs = _run(r, "globex-kombo", "completed_with_errors")
    for run_id in [*ours, theirs]:
        pipe = r.pipeline()
        errors = [{"stage": "provider", "code": "E_DUP", "message": "duplicate course"}] * 4
        queue_reasons(pipe, run_id, errors, 3600)
        pipe.execute()
    queue_reasons(
        r, ours[0], [{"stage": "validation", "code": "invalid", "field": "url", "message": "url: bad"}], 60
    )
    reader = _client(r, client, ["read"], ["acme-*"])
    body = reader.get("/v1/failures").get_json()
    assert [(f["code"], f["count"], f["runs"]) for f in body["reasons"]] == [
        ("E_DUP", 12, 3),
        ("invalid", 1, 1),
    ]
    assert sorted(body["reasons"][0]["run_ids"]) == sorted(ours)  # newest first (one ms apart at best)
    assert body["runs_scanned"] == 3 and body["truncated"] is False
    assert reader.get("/v1/failures", query_string={"connection": "globex-kombo"}).get_json()["reasons"] == []
    later = reader.get("/v1/failures", query_string={"since": "2999-01-01T00:00:00Z"}).get_json()
    assert later["reasons"] == []


def test_items_filter_by_reason_and_runs_by_provider(client: Any, r: redis.Redis) -> None:
    run_id = _run(r, "acme-kombo", "completed_with_errors")
    records = {f"i{n}": json.dumps([{"item_id": f"i{n}", "stage": "provider", "code": "A" if n % 100 else "RARE",
                                      "message": "no"}]) for n in range(20_000)}  # fmt: skip
    r.hset(keys.run_item_errors(run_id), mapping=records)
    reader = _client(r, client, ["read"], ["*"])
    seen, cursor, pages = [], None, 0
    while True:
        q = {"code": "RARE", "limit": 50, **({"cursor": cursor} if cursor else {})}
        page = reader.get(f"/v1/runs/{run_id}/items", query_string=q).get_json()
        seen += [i["item_id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"i{n}" for n in range(0, 20_000, 100))
    assert pages >= 4  # no page read more than 5,000 records
    assert [run["run_id"] for run in reader.get("/v1/runs?provider=kombo").get_json()["runs"]] == [run_id]
    assert reader.get("/v1/runs?provider=stackone").get_json()["runs"] == []


def test_the_timeline_and_status_of_another_tenant_are_404(client: Any, r: redis.Redis) -> None:
    theirs = _run(r, "globex-kombo")
    ours = _run(r, "acme-kombo")
    reader = _client(r, client, ["read"], ["acme-*"])
    assert reader.get(f"/v1/runs/{theirs}/timeline").status_code == 404
    assert reader.get(f"/v1/runs/{ours}/timeline").get_json() == {"run_id": ours, "bucket_s": 5, "points": []}
    assert reader.get("/v1/connections/globex-kombo/status").status_code == 404
    status = reader.get("/v1/connections/acme-kombo/status").get_json()
    assert status["last_run"]["run_id"] == ours and status["schedule"] is None
    assert status["budgets"] and all(
        m["name"] == "acme-kombo" for b in status["budgets"] for m in b["members"]
    )
    me = reader.get("/v1/token").get_json()
    assert (me["scopes"], me["connections"]) == (["read"], ["acme-*"]) and "token" not in me


def test_the_next_due_time_of_a_schedule() -> None:
    now = 1_000_000.0
    assert next_due_s(Schedule("x", every_s=3600), now - 600, now) == now + 3000
    assert next_due_s(Schedule("x", every_s=3600), None, now) == now  # due at once
    due = next_due_s(Schedule("x", cron="*/15 * * * *"), now, now)
    assert now < due <= now + 15 * 60


def test_the_page_is_served_without_a_token_under_a_strict_policy_and_holds_no_data(client: Any) -> None:
    with client.get("/") as page:
        assert page.status_code == 200 and b'<script type="module" src="/static/app.js">' in page.data
        policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    for name in ("app.js", "style.css"):
        with client.get(f"/static/{name}") as asset:
            assert asset.status_code == 200 and asset.headers["X-Content-Type-Options"] == "nosniff"
    with client.get("/static/../app.py") as outside:
        assert outside.status_code == 404
    for module in STATIC.glob("*.js"):
        with client.get(f"/static/{module.name}") as asset:
            script = asset.get_data(as_text=True)
        # Data is written as text, never as markup; the token lives and dies with the tab.
        assert ".innerHTML" not in script and "localStorage" not in script, module.name
