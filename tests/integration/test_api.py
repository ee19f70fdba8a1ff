"""The HTTP API served by `coursesync api` (gunicorn), over real HTTP, with real workers and beat,
real Redis and the sandbox: runs by URL and by upload, paging, idempotency, tenants."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from coursesync.sample import write_sample
from tests.integration.conftest import Pipeline, kombo_config, serve_folder

pytestmark = pytest.mark.integration


def _two_tenants(url: str) -> str:
    return kombo_config(url) + kombo_config(url).replace("it-kombo", "other-kombo")


class Api:
    """A client of the served API with one token."""

    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base + "/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def wait(self, run_id: str, timeout_s: float = 120) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            doc = self.http.get(f"/runs/{run_id}").json()
            if doc["state"] in ("completed", "completed_with_errors", "failed", "cancelled"):
                return doc
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not end: {doc}")


@pytest.fixture(scope="module")
def served(
    start_pipeline: Callable[..., Pipeline], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    catalogs = tmp_path_factory.mktemp("catalogs")
    pipeline = start_pipeline(config=_two_tenants, env={"COURSESYNC_CATALOG_DIR": str(catalogs / "uploads"),
                                                        "COURSESYNC_SECRET_KEY": "integration"})  # fmt: skip
    base = pipeline.stack.start_api()
    yield pipeline, base, catalogs


@pytest.fixture
def tokens(served: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Api]]:
    pipeline, base, _ = served
    r = pipeline.use(monkeypatch)
    from api.tokens import create_token

    made = {
        "writer": create_token(r, name="acme", scopes=["write"], connections=["it-*"])[0],
        "reader": create_token(r, name="acme-read", scopes=["read"], connections=["it-kombo"])[0],
        "other": create_token(r, name="other", scopes=["write"], connections=["other-kombo"])[0],
        "admin": create_token(r, name="ops", scopes=["admin"], connections=["it-*", "api-*"])[0],
    }
    clients = {name: Api(base, token) for name, token in made.items()}
    yield clients
    for client in clients.values():
        client.http.close()


@pytest.fixture(scope="module")
def catalog_server(served: Any) -> Iterator[str]:
    _, _, folder = served
    with serve_folder(folder) as url:
        yield url


def _items_pages(api: Api, run_id: str, state: str, limit: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"state": state, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = api.http.get(f"/runs/{run_id}/items", params=params).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def test_a_run_started_by_url_ends_with_exact_counts_and_pages_of_failures(
    served: Any, tokens: dict[str, Api], catalog_server: str
) -> None:
    _, _, folder = served
    counts = write_sample(folder / "by-url.jsonl", 600, prefix="url")
    resp = tokens["writer"].http.post(
        "/runs", json={"connection": "it-kombo", "source_url": f"{catalog_server}/by-url.jsonl"}
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers["Location"].endswith(resp.json()["run_id"])
    doc = tokens["writer"].wait(resp.json()["run_id"])
    assert doc["state"] == "completed_with_errors"
    assert doc["counts"]["succeeded"] == counts.succeeded
    assert doc["counts"]["invalid"] == counts.invalid
    assert doc["counts"]["failed"] == counts.rejected
    failed = _items_pages(tokens["reader"], doc["run_id"], "failed", 3)
    invalid = _items_pages(tokens["reader"], doc["run_id"], "invalid", 4)
    assert len(failed) == len({i["item_id"] for i in failed}) == counts.rejected
    assert len(invalid) == counts.invalid
    assert all(e["stage"] == "provider" and e["code"] for i in failed for e in i["errors"])
    assert all(e["stage"] == "validation" for i in invalid for e in i["errors"])


def test_a_fanout_started_over_http_names_only_the_tokens_connections_and_ends_with_exact_counts(
    served: Any, tokens: dict[str, Api], catalog_server: str
) -> None:
    _, _, folder = served
    counts = write_sample(folder / "fanout.jsonl", 300, prefix="fan")
    body = {"connections": ["*-kombo"], "source_url": f"{catalog_server}/fanout.jsonl"}
    # When a tenant's token starts a fan-out with a glob that also matches another tenant's connection
    resp = tokens["writer"].http.post("/fanouts", json=body, headers={"Idempotency-Key": "fan-1"})
    assert resp.status_code == 202, resp.text
    fanout_id = resp.json()["fanout_id"]
    # Then the glob stands for its own connections only, and a retried POST is the same fan-out
    assert [run["connection"] for run in resp.json()["runs"]] == ["it-kombo"]
    again = tokens["writer"].http.post("/fanouts", json=body, headers={"Idempotency-Key": "fan-1"})
    assert again.json()["fanout_id"] == fanout_id and again.headers["Idempotent-Replayed"] == "true"
    # And it ends with the run's exact counts, summed in the fan-out document
    import time

    deadline = time.monotonic() + 120
    while (doc := tokens["writer"].http.get(f"/fanouts/{fanout_id}").json())["state"] in (
        "reading",
        "running",
    ):
        assert time.monotonic() < deadline, doc
        time.sleep(0.3)
    assert doc["state"] == "completed_with_errors" and doc["items"] == 300
    assert (doc["counts"]["succeeded"], doc["counts"]["invalid"], doc["counts"]["failed"]) == (
        counts.succeeded,
        counts.invalid,
        counts.rejected,
    )
    run = tokens["writer"].http.get(f"/runs/{doc['runs'][0]['run_id']}").json()
    assert run["parent"] == fanout_id
    # And another tenant neither sees it nor may name the first tenant's connection
    assert tokens["other"].http.get(f"/fanouts/{fanout_id}").status_code == 404
    named = tokens["other"].http.post("/fanouts", json={**body, "connections": ["it-kombo"]})
    assert named.status_code == 404 and named.headers["Content-Type"] == "application/problem+json"


def test_an_uploaded_gzip_catalog_is_streamed_and_synced(served: Any, tokens: dict[str, Api]) -> None:
    _, _, folder = served
    counts = write_sample(folder / "upload.jsonl", 500, prefix="upl", invalid_every=1000, rejected_every=1000)
    body = gzip.compress((folder / "upload.jsonl").read_bytes())

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length, as a streaming client sends
        stream = io.BytesIO(body)
        while piece := stream.read(4096):
            yield piece

    resp = tokens["writer"].http.post(
        "/connections/it-kombo/runs",
        content=chunks(),
        headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    assert resp.status_code == 202, resp.text
    doc = tokens["writer"].wait(resp.json()["run_id"])
    assert (doc["state"], doc["counts"]["succeeded"]) == ("completed", counts.succeeded)
    assert doc["options"]["upload_bytes"] == len(body)
    # read, then removed (fanouts/ holds fan-outs' snapshots, each removed by its last run;
    # fanout-memory/ what a fan-out learnt of its catalog for the next one, none half-written)
    assert [p for p in (folder / "uploads").iterdir() if p.name not in ("fanouts", "fanout-memory")] == []
    assert list((folder / "uploads" / "fanouts").glob("*")) == []
    assert list((folder / "uploads" / "fanout-memory").glob("*.*")) == []


def test_a_retried_post_with_the_same_idempotency_key_returns_the_same_run(
    served: Any, tokens: dict[str, Api], catalog_server: str
) -> None:
    _, _, folder = served
    write_sample(folder / "idem.jsonl", 50, prefix="idem")
    body = {"connection": "it-kombo", "source_url": f"{catalog_server}/idem.jsonl"}
    key = {"Idempotency-Key": "order-4711"}
    first = tokens["writer"].http.post("/runs", json=body, headers=key)
    again = tokens["writer"].http.post("/runs", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["run_id"] == again.json()["run_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = tokens["writer"].http.post("/runs", json={**body, "full": True}, headers=key)
    assert changed.status_code == 422
    assert changed.headers["Content-Type"] == "application/problem+json"
    upload = {"Idempotency-Key": "upload-1", "Content-Type": "application/x-ndjson"}
    data = (folder / "idem.jsonl").read_bytes()
    u1 = tokens["writer"].http.post("/connections/it-kombo/runs", content=data, headers=upload)
    u2 = tokens["writer"].http.post("/connections/it-kombo/runs", content=data, headers=upload)
    assert u1.json()["run_id"] == u2.json()["run_id"]
    tokens["writer"].wait(first.json()["run_id"])
    tokens["writer"].wait(u1.json()["run_id"])


def test_tenants_see_only_their_own_runs_and_connections(
    served: Any, tokens: dict[str, Api], catalog_server: str
) -> None:
    _, _, folder = served
    write_sample(folder / "tenant.jsonl", 20, prefix="ten")
    mine = (
        tokens["writer"]
        .http.post("/runs", json={"connection": "it-kombo", "source_url": f"{catalog_server}/tenant.jsonl"})
        .json()
    )
    other = tokens["other"]
    assert other.http.get(f"/runs/{mine['run_id']}").status_code == 404
    assert other.http.get(f"/runs/{mine['run_id']}/items").status_code == 404
    assert other.http.post(f"/runs/{mine['run_id']}/retry").status_code == 404
    assert other.http.post(f"/runs/{mine['run_id']}/cancel").status_code == 404
    assert other.http.post("/connections/it-kombo/pause").status_code == 404
    assert other.http.post("/connections/it-kombo/items", json={"deletes": ["x"]}).status_code == 404
    assert (
        other.http.post(
            "/runs", json={"connection": "it-kombo", "source_url": f"{catalog_server}/x.jsonl"}
        ).status_code
        == 404
    )
    assert mine["run_id"] not in {run["run_id"] for run in other.http.get("/runs").json()["runs"]}
    listed = tokens["reader"].http.get("/runs", params={"connection": "it-kombo", "limit": 2})
    assert listed.status_code == 200 and listed.json()["next_cursor"]
    # Read scope may look, not act.
    refused = tokens["reader"].http.post(
        "/runs", json={"connection": "it-kombo", "source_url": f"{catalog_server}/tenant.jsonl"}
    )
    assert refused.status_code == 403
    assert httpx.get(str(other.http.base_url) + "/runs").status_code == 401
    tokens["writer"].wait(mine["run_id"])


def test_errors_are_problem_documents_naming_the_field(served: Any, tokens: dict[str, Api]) -> None:
    resp = tokens["writer"].http.post("/runs", json={"connection": "it-kombo", "source_url": "ftp://x"})
    assert resp.status_code == 422
    problem = resp.json()
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == ["source_url"]


def test_a_connection_created_through_the_api_is_used_at_once_and_its_secret_never_shown(
    served: Any, tokens: dict[str, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _, _ = served
    admin = tokens["admin"]
    table = {"name": "api-kombo", "provider": "kombo", "base_url": pipeline.stack.sandbox_url + "/kombo/v1",
             "api_key": "sandbox-kombo-key", "integration_id": "sandbox:coursesync-demo", "batch_size": 50}  # fmt: skip
    created = admin.http.post("/connections", json=table)
    assert created.status_code == 201, created.text
    assert created.json()["settings"]["api_key"] == {"set": True}
    assert admin.http.post("/connections", json=table).status_code == 409
    body = b"".join(b'{"id":"ac%d","title":"T","url":"https://a.example/%d"}\n' % (i, i) for i in range(120))
    run = admin.http.post("/connections/api-kombo/runs", content=body,
                          headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert run.status_code == 202, run.text
    doc = admin.wait(run.json()["run_id"])
    assert (doc["state"], doc["counts"]["succeeded"]) == ("completed", 120)
    # The secret is write-only, and another tenant does not see the connection at all.
    for answer in (admin.http.get("/connections").text, admin.http.get("/connections/api-kombo").text):
        assert "sandbox-kombo-key" not in answer
    assert tokens["other"].http.get("/connections/api-kombo").status_code == 404
    assert "api-kombo" not in tokens["other"].http.get("/connections").text
    # A wrong key, put through the API, is what the next run uses.
    assert (
        admin.http.put(
            "/connections/api-kombo",
            json={k: v for k, v in table.items() if k != "name"} | {"api_key": "wrong"},
        ).status_code
        == 200
    )
    import time

    time.sleep(1.5)  # workers re-read stored connections within COURSESYNC_CONNECTIONS_REFRESH_S
    run = admin.http.post("/connections/api-kombo/runs", params={"full": "true"}, content=body,
                          headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    doc = admin.wait(run.json()["run_id"])
    assert doc["counts"]["succeeded"] == 0 and doc["counts"]["failed"] == 120
    assert admin.http.delete("/connections/api-kombo").status_code == 204
    assert admin.http.get("/connections/api-kombo").status_code == 404
    assert admin.http.delete("/connections/it-kombo").status_code == 409  # the file's
