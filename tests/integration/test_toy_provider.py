"""A provider from outside the repository, installed only through the entry point, end to end.

``tests/plugins`` holds the toy provider as another package would ship it, with the metadata
pip would write (``toy_provider-0.1.dist-info/entry_points.txt``). Its folder goes on
``PYTHONPATH`` of the workers, beat and the producer, never of this process; the toy LMS is a
small HTTP server of this test, not the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from coursesync.sample import sample_items
from tests.integration.conftest import Pipeline
from workers.ledger import item_errors

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"
TOKEN = "toy-token"
N_ITEMS = 600


class ToyLms(ThreadingHTTPServer):
    """The toy LMS: ``POST /items`` makes a job (the same body, the same job), ``GET /jobs/{id}``
    answers pending once, then a result per item; an item whose URL host ends in ``.invalid`` is
    refused. It remembers every item it received and the ones it holds."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        self.polls: dict[str, int] = {}
        self.received: dict[str, dict[str, Any]] = {}
        self.held: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def post_items(self, raw: bytes) -> tuple[int, Any]:
        items = json.loads(raw)["items"]
        job = hashlib.sha256(raw).hexdigest()[:16]
        with self.lock:
            self.jobs.setdefault(job, items)
            self.received.update((item["id"], item) for item in items)
        return 202, {"job": job}

    def get_job(self, job: str) -> tuple[int, Any]:
        with self.lock:
            if job not in self.jobs:
                return 404, {"error": f"no job {job}"}
            self.polls[job] = self.polls.get(job, 0) + 1
            if self.polls[job] == 1:
                return 200, {"state": "pending"}
            results = []
            for item in self.jobs[job]:
                ok = not (urlsplit(item["url"]).hostname or "").endswith(".invalid")
                results.append(
                    {"id": item["id"], "ok": ok, "reason": None if ok else "host does not resolve"}
                )
                if ok:
                    self.held.add(item["id"])
            return 200, {"state": "done", "results": results}


class _Handler(BaseHTTPRequestHandler):
    server: ToyLms

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def _answer(self, status: int, doc: Any) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._answer(401, {"error": "bad token"})
        return False

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self._authorized():
            self._answer(*self.server.post_items(raw))

    def do_GET(self) -> None:
        if self._authorized():
            self._answer(*self.server.get_job(self.path.rsplit("/", 1)[-1]))


@pytest.fixture(scope="module")
def toy() -> Iterator[ToyLms]:
    server = ToyLms()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def pipeline(start_pipeline: Callable[..., Pipeline], toy: ToyLms) -> Pipeline:
    def config(sandbox_url: str) -> str:  # the sandbox is not used: the toy LMS is
        return f"""
[connections.it-toy]
provider = "toy"
base_url = "{toy.url}"
token = "{TOKEN}"
batch_size = 25
"""

    return start_pipeline(config, env={"PYTHONPATH": str(PLUGINS)})


def test_nothing_outside_the_plugin_folder_and_this_test_names_the_toy_provider() -> None:
    word = re.compile(r"\btoy\b", re.IGNORECASE)
    found = [
        str(path.relative_to(ROOT))
        for folder in ("workers", "producers", "schemas", "coursesync", "sandbox")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".json", ".md", ".toml")
        and word.search(path.read_text())
    ]
    # Nor is it registered by coursesync: its own metadata does that.
    found += ["pyproject.toml"] if word.search((ROOT / "pyproject.toml").read_text()) else []
    assert found == []


def test_a_catalog_syncs_to_a_provider_installed_through_the_entry_point(
    pipeline: Pipeline, toy: ToyLms, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a sample catalog (invalid items, items the toy LMS refuses), three of them with extra.toy
    r = pipeline.use(monkeypatch)
    records, expected = sample_items(N_ITEMS, prefix="ittoy")
    valid = [rec for rec in records if isinstance(rec, dict) and not _invalid(rec)]
    for rec in valid[:3]:
        rec["extra"] = {"toy": {"color": "teal"}}
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    # When the coursesync CLI syncs it, in a process that has the plugin only through PYTHONPATH
    sync = subprocess.run(
        [sys.executable, "-m", "coursesync.cli", "sync", "it-toy", str(catalog)],
        env={**pipeline.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert sync.returncode == 0, sync.stderr[-2000:]
    doc = pipeline.wait_for_run(r, sync.stdout.strip(), timeout_s=120)
    # Then the run ends with the exact counts the sample predicts...
    c = doc["counts"]
    succeeded = N_ITEMS - expected.invalid - expected.rejected
    assert (c["total"], c["invalid"], c["succeeded"], c["failed"]) == (
        N_ITEMS,
        expected.invalid,
        succeeded,
        expected.rejected,
    )
    assert c["pending"] == 0 and c["unchanged"] == 0 and doc["state"] == "completed_with_errors"
    # ...the toy LMS received every valid item (extra.toy merged in) and holds the succeeded ones...
    assert set(toy.received) == {rec["id"] for rec in valid}
    assert len(toy.held) == succeeded and all(toy.received[rec["id"]]["color"] == "teal" for rec in valid[:3])
    # ...and every refusal is the toy LMS's own, per item
    refused = [e for e in item_errors(r, doc["run_id"]) if e["stage"] == "provider"]
    assert len(refused) == expected.rejected and {e["code"] for e in refused} == {"TOY_REFUSED"}
    assert {e["item_id"] for e in refused} == set(toy.received) - toy.held


def _invalid(record: dict[str, Any]) -> bool:
    from schemas.course import validate_item

    return isinstance(validate_item(record), list)
