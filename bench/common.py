"""What every benchmark shares: a real local pipeline, the sandbox's request log, machine facts."""

from __future__ import annotations

import atexit
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import redis

from coursesync.redis_server import PrivateRedis, redis_answers, start_private_redis
from coursesync.stack import Stack

#: Production-like process settings (polls back off from 2 s as they would in production).
BENCH_ENV = {
    "COURSESYNC_LOG_LEVEL": "WARNING",
    "BENCH_KOMBO_KEY": "sandbox-kombo-key",
}


def kombo_connection(name: str, sandbox_url: str, **settings: Any) -> str:
    lines = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in settings.items())
    return f"""
[connections.{name}]
provider = "kombo"
base_url = "{sandbox_url}/kombo/v1"
api_key = "env:BENCH_KOMBO_KEY"
integration_id = "sandbox:coursesync-demo"
{lines}
"""


_redis: PrivateRedis | None = None


def bench_redis_url() -> str:
    """One Redis for the whole benchmark process (this process' Celery client binds to it once):
    COURSESYNC_REDIS_URL if it answers, else a private one stopped at exit."""
    global _redis  # noqa: PLW0603 - one per process, by design
    url = os.environ.get("COURSESYNC_REDIS_URL", "")
    if url and redis_answers(url):
        return url
    if _redis is None:
        _redis = start_private_redis()
        atexit.register(_redis.stop)
    os.environ["COURSESYNC_REDIS_URL"] = _redis.url
    return _redis.url


@contextmanager
def pipeline(
    config: str | None, sandbox_args: list[str], *, workers: int, concurrency: int, beat: bool = True
) -> Iterator[Stack]:
    """Redis (private unless COURSESYNC_REDIS_URL answers), sandbox, workers and beat."""
    url = bench_redis_url()
    redis.Redis.from_url(url).flushdb()
    with Stack(env=dict(BENCH_ENV), redis_url=url) as stack:
        stack.start_redis()
        url = stack.start_sandbox(sandbox_args)
        if config is not None:
            path = stack.workdir / "coursesync.toml"
            path.write_text(config.replace("{sandbox}", url))
            stack.env["COURSESYNC_CONFIG"] = str(path)
            os.environ.update({"COURSESYNC_REDIS_URL": stack.redis_url or "", "COURSESYNC_CONFIG": str(path)})
            os.environ.update(BENCH_ENV)
            from workers.config import get_settings

            get_settings.cache_clear()
            for n in range(workers):
                stack.start_worker(f"worker{n}", concurrency=concurrency)
            if beat:
                stack.start_beat()
            time.sleep(3.0)  # let the workers connect before the clock starts
        yield stack


def requests_since(sandbox_url: str, since: float) -> list[list[Any]]:
    doc = httpx.get(f"{sandbox_url}/_sandbox/requests", params={"since": since}, timeout=30).json()
    return list(doc["requests"] if isinstance(doc, dict) else doc)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def wait_final(r: Any, run_id: str, timeout_s: float = 600.0) -> dict[str, Any]:
    from workers.ledger import FINAL_STATES, run_document

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = run_document(r, run_id)
        if doc and doc["state"] in FINAL_STATES:
            return doc
        time.sleep(0.1)
    raise TimeoutError(run_id)
