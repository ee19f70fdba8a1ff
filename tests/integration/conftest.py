"""A real pipeline per test module: sandbox, Celery worker and beat processes, real Redis."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from coursesync.redis_server import start_private_redis
from coursesync.stack import Stack

pytestmark = pytest.mark.integration

#: Fast ticks so tests do not wait on production-sized intervals.
FAST_ENV = {
    # Catalog servers, webhook receivers and asset stores of the tests live on loopback.
    "COURSESYNC_OUTBOUND_ALLOW": "loopback",
    "COURSESYNC_TICK_INTERVAL_S": "0.5",
    "COURSESYNC_POLL_INITIAL_DELAY_S": "0.5",
    "COURSESYNC_POLL_MAX_INTERVAL_S": "2",
    "COURSESYNC_BACKOFF_BASE_S": "0.2",
    "COURSESYNC_BACKOFF_CAP_S": "2",
    "COURSESYNC_PROVIDER_TIMEOUT_S": "5",
    "COURSESYNC_BATCH_LEASE_S": "20",
    "COURSESYNC_LOG_LEVEL": "INFO",
    "IT_KOMBO_KEY": "sandbox-kombo-key",
}


def kombo_config(sandbox_url: str, **extra: Any) -> str:
    """A connections file with one Kombo connection on the sandbox; ``extra`` adds/overrides keys."""
    settings: dict[str, Any] = {"batch_size": 250, **extra}
    lines = "\n".join(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items())
    return f"""
[connections.it-kombo]
provider = "kombo"
base_url = "{sandbox_url}/kombo/v1"
api_key = "env:IT_KOMBO_KEY"
integration_id = "sandbox:coursesync-demo"
{lines}
"""


class Pipeline:
    """A running stack plus helpers to point this test process at it."""

    def __init__(self, stack: Stack, config_text: str) -> None:
        self.stack = stack
        self.config = stack.workdir / "coursesync.toml"
        self.config.write_text(config_text)
        self.env = {
            **FAST_ENV,
            "COURSESYNC_REDIS_URL": stack.redis_url or "",
            "COURSESYNC_CONFIG": str(self.config),
        }

    def use(self, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
        for k, v in self.env.items():
            monkeypatch.setenv(k, v)
        from workers.config import get_settings

        get_settings.cache_clear()
        url = self.env["COURSESYNC_REDIS_URL"]
        # Producers in this process publish through the Celery app, which took its broker URL
        # from the environment when first imported (perhaps by a unit test, with another Redis):
        # point it here too, and drop connection pools made for the old URL, as a fork does.
        # A URL naming Sentinels becomes kombu's syntax plus the master's name, as in the app.
        from workers.celery_app import app
        from workers.redis_client import client_for_url
        from workers.redis_url import celery_url

        broker_url, options = celery_url(url)
        if app.conf.broker_url != broker_url:
            app.conf.update(
                broker_url=broker_url,
                result_backend=broker_url,
                broker_transport_options={**app.conf.broker_transport_options, **options},
                result_backend_transport_options=options,
            )
            app._after_fork()
        return client_for_url(url, decode_responses=True)

    def sandbox(self, path: str, body: Any = None) -> Any:
        url = self.stack.sandbox_url + path
        resp = httpx.post(url, json=body, timeout=10) if body is not None else httpx.get(url, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def wait_for_run(self, r: redis.Redis, run_id: str, timeout_s: float = 180.0) -> dict[str, Any]:
        from workers.ledger import FINAL_STATES, run_document

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            doc = run_document(r, run_id)
            if doc and doc["state"] in FINAL_STATES:
                return doc
            time.sleep(0.25)
        raise AssertionError(
            f"run {run_id} did not finish: {run_document(r, run_id)}\n--- worker log tail ---\n"
            + self.stack.log_text("worker")[-4000:]
        )


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """The files of ``folder`` over HTTP on loopback (catalogs the workers fetch by URL)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = (folder / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def record_figures(scenario: str, **figures: Any) -> None:
    """Append what a fault scenario measured to ``$COURSESYNC_RELIABILITY_REPORT`` (JSON lines),
    when set: RELIABILITY.md's figures come from these runs."""
    path = os.environ.get("COURSESYNC_RELIABILITY_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"scenario": scenario, **figures}) + "\n")


@pytest.fixture(scope="module")
def start_pipeline(redis_server: str) -> Iterator[Callable[..., Pipeline]]:
    stacks: list[Stack] = []

    def start(config: Callable[[str], str] = kombo_config, sandbox_args: list[str] | None = None,
              workers: int = 1, concurrency: int = 4, env: dict[str, str] | None = None,
              aof_redis: bool = False, redis_url: str | None = None) -> Pipeline:  # fmt: skip
        """``env`` overrides FAST_ENV here and in the workers; ``aof_redis`` gives the pipeline a
        Redis of its own that persists every write, which the test may crash and restart;
        ``redis_url`` one the test started (a Sentinel group), empty, and stops itself."""
        # One pipeline at a time: workers of an earlier one would consume this one's tasks.
        while stacks:
            stacks.pop().stop()
        stack = Stack(redis_url=redis_server, env={**FAST_ENV, **(env or {})})
        stacks.append(stack)
        if aof_redis:
            stack.private_redis = start_private_redis(appendonly=True)
            stack.redis_url = stack.private_redis.url
        elif redis_url:
            stack.redis_url = redis_url
        else:
            redis.Redis.from_url(redis_server).flushdb()
            stack.start_redis()
        url = stack.start_sandbox(sandbox_args or ["--kombo-pending-s", "0.5"])
        pipeline = Pipeline(stack, config(url))
        pipeline.env.update(env or {})
        stack.env.update(pipeline.env)
        for n in range(workers):
            stack.start_worker(f"worker{n or ''}", concurrency=concurrency)
        stack.start_beat()
        return pipeline

    yield start
    for stack in stacks:
        stack.stop()
