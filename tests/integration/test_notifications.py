"""Upstream systems hear about finished runs: a signed webhook, retried until it is received."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline, kombo_config
from workers.webhooks import SIGNATURE_HEADER, verify

pytestmark = pytest.mark.integration


class Receiver:
    """A loopback webhook receiver that fails its first ``failures`` deliveries with 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.refused < receiver.failures:
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    receiver.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/coursesync"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(failures=2)
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


def test_the_webhook_gets_exactly_one_signed_final_document_per_run(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    # Given a connection with a webhook whose receiver answers 500 twice before it recovers
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, webhook_url=receiver.url, webhook_secret="env:IT_HOOK_SECRET")
    )
    pipeline.stack.env["IT_HOOK_SECRET"] = "s3cret-hook"
    pipeline.stack.kill("worker")  # restart the worker so it sees the secret's variable
    pipeline.stack.start_worker("worker")
    monkeypatch.setenv("IT_HOOK_SECRET", "s3cret-hook")
    r = pipeline.use(monkeypatch)
    # When two runs finish
    items = [{"id": f"w{i}", "title": "T", "url": "https://a.example"} for i in range(30)]
    run_ids = [start_run("it-kombo", items, SyncOptions(full=True), r=r) for _ in range(2)]
    for run_id in run_ids:
        pipeline.wait_for_run(r, run_id)
    deadline = time.monotonic() + 60
    while len(receiver.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # a duplicate would arrive now
    # Then each run's final document arrived exactly once, after the 500s, signed
    assert receiver.refused == 2
    docs = [json.loads(body) for _, body in receiver.accepted]
    assert sorted(d["run_id"] for d in docs) == sorted(run_ids)
    assert all(d["state"] == "completed" and d["counts"]["succeeded"] == 30 for d in docs)
    for headers, body in receiver.accepted:
        assert verify("s3cret-hook", body, headers[SIGNATURE_HEADER.lower()])
        assert not verify("wrong-secret", body, headers[SIGNATURE_HEADER.lower()])
        assert headers["x-coursesync-delivery"] in run_ids
