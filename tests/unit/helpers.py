"""Building blocks for tests that drive the pipeline's plain functions on a real Redis."""

from __future__ import annotations

import bisect
import time
from dataclasses import replace
from typing import Any

import redis

from workers import ports
from workers.config import Settings
from workers.connections import Connection
from workers.deps import Deps
from workers.providers.fake import FakeProvider
from workers.providers.installed import get_plugin


def connection(name: str = "acme", **options: Any) -> Connection:
    opts = {"api_key": "k", "integration_id": "i", "requests_per_minute": 600_000, **options}
    return Connection(name, "kombo", "http://127.0.0.1:9/kombo/v1", opts, None, get_plugin("kombo").spec)


def make_deps(
    r: redis.Redis,
    raw_r: redis.Redis,
    provider: FakeProvider,
    conn: Connection | None = None,
    **settings: Any,
) -> Deps:
    conn = conn or connection()
    base = Settings(poll_initial_delay_s=0.0, backoff_base_s=0.01, backoff_cap_s=0.05)
    return Deps(
        r=r,
        raw_r=raw_r,
        settings=replace(base, **settings),
        get_connection=lambda name: conn,
        get_provider=lambda name: provider,
        # Whatever the test installed (``capture_submissions``), looked up when used.
        send=lambda name, kwargs, options: ports.installed()(name, kwargs, options),
    )


def capture_submissions(monkeypatch: Any) -> list[str]:
    """Install a task sender that keeps the ids of the batches handed to Celery (the test then
    plays the worker); other tasks are dropped. Restored when the test ends."""
    queue: list[str] = []

    def sender(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        if name == ports.SUBMIT_BATCH:
            queue.append(kwargs["batch_id"])

    monkeypatch.setattr(ports, "_installed", [sender])
    return queue


def configure_and_capture(
    monkeypatch: Any, tmp_path: Any, config: str, env: dict[str, str] | None = None
) -> list[str]:
    """Point COURSESYNC_CONFIG at ``config`` (written under ``tmp_path``), set ``env`` (the secrets
    the config refers to) and capture submissions as ``capture_submissions`` does."""
    path = tmp_path / "coursesync.toml"
    path.write_text(config)
    monkeypatch.setenv("COURSESYNC_CONFIG", str(path))
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return capture_submissions(monkeypatch)


def record_client_and_grant(monkeypatch: Any, deps: Deps, provider: FakeProvider) -> tuple[Deps, list[str]]:
    """``deps`` whose provider client, when built, appends "client" to the list returned, and a
    patched rate limiter that appends "grant" each time a request is granted."""
    from workers.ratelimit import Limits

    order: list[str] = []
    real = Limits.take_request

    def take(self: Limits, *args: Any, **kw: Any) -> float:
        order.append("grant")
        return real(self, *args, **kw)

    monkeypatch.setattr(Limits, "take_request", take)
    return replace(deps, get_provider=lambda name: order.append("client") or provider), order


def wait_until(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def most_in_any(times: list[float], width: float) -> int:
    """The most of ``times`` in any interval ``[t, t + width)`` (an exact sliding count, in the
    unit of ``times``): what a sliding-window limiter would have counted at its busiest."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + width) - i for i, t in enumerate(times)), default=0)
