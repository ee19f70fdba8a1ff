"""The API app in-process (Flask's test client) on a real Redis: tokens, scopes, tenants, problem
documents, idempotency, cursors and uploads. Over real HTTP with workers: tests/integration."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from api.app import create_app
from api.openapi import COMMITTED, build
from api.tokens import create_token
from workers import ledger
from workers.config import Settings
from workers.ports import START_RUN

CONFIG = """
[connections.acme-kombo]
provider = "kombo"
base_url = "https://api.kombo.dev/v1"
api_key = "env:KOMBO_KEY"
integration_id = "acme:1"

[connections.globex-kombo]
provider = "kombo"
base_url = "https://api.kombo.dev/v1"
api_key = "env:KOMBO_KEY"
integration_id = "globex:1"
"""


class Sent(list[tuple[str, dict[str, Any]]]):
    def __call__(self, name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        self.append((name, kwargs))


@pytest.fixture
def app_env(r: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    config = tmp_path / "coursesync.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("COURSESYNC_CONFIG", str(config))
    monkeypatch.setenv("COURSESYNC_SECRET_KEY", "unit-test-key")
    from workers.config import get_settings

    get_settings.cache_clear()
    sent = Sent()
    settings = Settings(config=str(config), catalog_dir=str(tmp_path / "uploads"))
    app = create_app(r, settings, sent)
    yield app.test_client(), sent, tmp_path


def _client(r: redis.Redis, client: FlaskClient, scopes: list[str], connections: list[str]) -> Any:
    token, _ = create_token(r, name="t", scopes=scopes, connections=connections)

    class Authed:
        def __getattr__(self, method: str) -> Any:
            def call(path: str, **kw: Any) -> Any:
                headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
                return getattr(client, method)(path, headers=headers, **kw)

            return call

    return Authed()


def _run(r: redis.Redis, connection: str, state: str = "completed") -> str:
    run_id = ledger.new_run_id()
    ledger.create_run(r, run_id=run_id, connection=connection, provider="kombo", retention_s=3600)
    r.hset(f"cs:run:{run_id}", "state", state)
    return run_id


def test_the_committed_openapi_document_is_the_served_one(app_env: Any) -> None:
    client, _, _ = app_env
    served = client.get("/v1/openapi.json").get_json()
    assert served == build()
    assert json.loads(COMMITTED.read_text()) == served, "run ./run python -m api.openapi and commit"


def test_every_v1_route_but_health_and_the_document_needs_a_token(app_env: Any, r: redis.Redis) -> None:
    client, _, _ = app_env
    assert client.get("/v1/health").status_code == 200
    resp = client.get("/v1/runs")
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/v1/runs", headers={"Authorization": "Bearer cs_nope_nope"}).status_code == 401
    token, _ = create_token(r, name="t", scopes=["read"], connections=["*"])
    forged = token[:-4] + "AAAA"
    assert client.get("/v1/runs", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert token not in json.dumps(r.hgetall("cs:api:tokens"))  # stored hashed


def test_scopes_nest_and_another_tenants_run_is_404(app_env: Any, r: redis.Redis) -> None:
    client, sent, _ = app_env
    theirs = _run(r, "globex-kombo")
    ours = _run(r, "acme-kombo")
    reader = _client(r, client, ["read"], ["acme-*"])
    assert reader.get(f"/v1/runs/{ours}").status_code == 200
    assert reader.get(f"/v1/runs/{theirs}").status_code == 404
    body = {"connection": "acme-kombo", "source_url": "https://example.com/c.jsonl"}
    assert reader.post("/v1/runs", json=body).status_code == 403
    writer = _client(r, client, ["write"], ["acme-*"])
    assert writer.post("/v1/runs", json={**body, "connection": "globex-kombo"}).status_code == 404
    assert writer.post("/v1/runs", json={**body, "connection": "no-such"}).status_code == 404
    assert (
        writer.post("/v1/tokens", json={"name": "x", "scopes": ["read"], "connections": ["*"]}).status_code
        == 403
    )
    assert [run["run_id"] for run in writer.get("/v1/runs").get_json()["runs"]] == [ours]
    assert sent == []


def test_a_run_by_url_is_recorded_before_its_task_and_the_task_carries_only_its_id(
    app_env: Any, r: redis.Redis
) -> None:
    client, sent, _ = app_env
    writer = _client(r, client, ["write"], ["*"])
    signed = "https://cdn.example.com/c.jsonl?X-Amz-Signature=s3cr3t"
    resp = writer.post("/v1/runs", json={"connection": "acme-kombo", "source_url": signed, "full": True})
    assert resp.status_code == 202
    run_id = resp.get_json()["run_id"]
    assert resp.get_json()["state"] == "queued"
    assert sent == [(START_RUN, {"run_id": run_id})]
    assert "s3cr3t" not in json.dumps(resp.get_json())
    raw = r.hgetall(f"cs:run:{run_id}")
    assert raw["source"].startswith("sealed:") or "s3cr3t" not in raw["source"]
    assert r.zscore("cs:runs:open", run_id) is not None  # the doctor ends it if no worker ever starts


def test_an_idempotency_key_replays_conflicts_and_is_freed_by_a_failure(app_env: Any, r: redis.Redis) -> None:
    client, sent, _ = app_env
    writer = _client(r, client, ["write"], ["*"])
    body = {"connection": "acme-kombo", "source_url": "https://example.com/c.jsonl"}
    first = writer.post("/v1/runs", json=body, headers={"Idempotency-Key": "k1"})
    again = writer.post("/v1/runs", json=body, headers={"Idempotency-Key": "k1"})
    assert first.get_json()["run_id"] == again.get_json()["run_id"]
    assert len(sent) == 1
    other = writer.post("/v1/runs", json={**body, "prune": True}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    # Another token's same key is another key.
    second = _client(r, client, ["write"], ["*"])
    assert (
        second.post("/v1/runs", json=body, headers={"Idempotency-Key": "k1"}).get_json()["run_id"]
        != (first.get_json()["run_id"])
    )
    # A first attempt that failed (an upload with no body) frees its key.
    empty = writer.post("/v1/connections/acme-kombo/runs", data=b"",
                        headers={"Idempotency-Key": "k2", "Content-Type": "application/x-ndjson"})  # fmt: skip
    assert empty.status_code == 400
    ok = writer.post("/v1/connections/acme-kombo/runs", data=b'{"id":"a"}\n',
                     headers={"Idempotency-Key": "k2", "Content-Type": "application/x-ndjson"})  # fmt: skip
    assert ok.status_code == 202


def test_validation_errors_name_each_field(app_env: Any, r: redis.Redis) -> None:
    client, _, _ = app_env
    writer = _client(r, client, ["write"], ["*"])
    resp = writer.post("/v1/runs", json={"source_url": "ftp://x", "priority": "urgent", "extra": 1})
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.get_json()["errors"]}
    assert fields == {"connection", "source_url", "priority", "extra"}
    assert writer.get("/v1/runs", query_string={"limit": 0}).status_code == 422
    assert writer.get("/v1/runs", query_string={"cursor": "!!"}).status_code == 422
    assert writer.get("/v1/nowhere").mimetype == "application/problem+json"


def test_uploads_are_stored_whole_and_named_by_format(app_env: Any, r: redis.Redis) -> None:
    client, sent, tmp = app_env
    writer = _client(r, client, ["write"], ["*"])
    body = gzip.compress(b'{"id":"a","title":"A","url":"https://x.example/a"}\n' * 1000)
    resp = writer.post("/v1/connections/acme-kombo/runs", data=body,
                       headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})  # fmt: skip
    assert resp.status_code == 202, resp.get_json()
    stored = list((tmp / "uploads").iterdir())
    assert [p.name for p in stored] == [p.name for p in stored if p.name.endswith(".jsonl.gz")] and len(
        stored
    ) == 1
    assert stored[0].read_bytes() == body
    assert resp.get_json()["options"]["upload_bytes"] == len(body)
    unknown = writer.post("/v1/connections/acme-kombo/runs", data=b"x", headers={"Content-Type": "image/png"})
    assert unknown.status_code == 415
    assert len(sent) == 1


def test_run_pages_follow_a_cursor_without_gaps_or_repeats(app_env: Any, r: redis.Redis) -> None:
    client, _, _ = app_env
    made = [_run(r, "acme-kombo", "completed" if i % 2 else "failed") for i in range(7)]
    reader = _client(r, client, ["read"], ["*"])
    seen, cursor = [], None
    while True:
        page = reader.get(
            "/v1/runs", query_string={"limit": 3, **({"cursor": cursor} if cursor else {})}
        ).get_json()
        seen += [run["run_id"] for run in page["runs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    failed = reader.get("/v1/runs", query_string={"state": "failed", "connection": "acme-kombo"}).get_json()
    assert {run["run_id"] for run in failed["runs"]} == {m for i, m in enumerate(made) if not i % 2}


def test_failed_items_page_through_every_failure_once(app_env: Any, r: redis.Redis) -> None:
    client, _, _ = app_env
    run_id = _run(r, "acme-kombo", "completed_with_errors")
    failures = {f"i{n}": json.dumps([{"item_id": f"i{n}", "stage": "provider", "code": "X", "message": "no"}])
                for n in range(500)}  # fmt: skip
    invalid = {f"v{n}": json.dumps([{"item_id": f"v{n}", "stage": "validation", "code": "invalid",
                                     "message": "bad", "field": "url"}]) for n in range(40)}  # fmt: skip
    r.hset(f"cs:run:{run_id}:item_errors", mapping={**failures, **invalid})
    reader = _client(r, client, ["read"], ["*"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        q = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = reader.get(f"/v1/runs/{run_id}/items", query_string=q).get_json()
        seen += [i["item_id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(failures) and pages > 5
    page = reader.get(f"/v1/runs/{run_id}/items", query_string={"state": "invalid", "limit": 500}).get_json()
    assert len(page["items"]) == 40 and page["items"][0]["errors"][0]["field"] == "url"
