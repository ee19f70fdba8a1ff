"""Starting and stopping the local processes of a whole pipeline: sandbox, workers, beat.

Used by ``coursesync demo``, the integration tests and the benchmarks, so all three run the
same real processes: a sandbox HTTP server, ``celery -A workers worker`` and
``celery -A workers beat``, against one Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from coursesync.redis_server import PrivateRedis, redis_answers, start_private_redis

__all__ = ["Stack", "free_port"]


def free_port() -> int:
    from coursesync.redis_server import _free_port

    return _free_port()


@dataclass
class Stack:
    """Processes of one local pipeline. Use as a context manager; everything stops on exit."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="coursesync-")))
    redis_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    log_to: IO[str] | None = None
    private_redis: PrivateRedis | None = None
    sandbox_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    # ------------------------------------------------------------------ redis
    def start_redis(self, *, appendonly: bool = False) -> str:
        """Use COURSESYNC_REDIS_URL if it answers, else start a private Redis."""
        wanted = self.redis_url or os.environ.get("COURSESYNC_REDIS_URL")
        if wanted and redis_answers(wanted):
            self.redis_url = wanted
        else:
            self.private_redis = start_private_redis(appendonly=appendonly)
            self.redis_url = self.private_redis.url
        return self.redis_url

    # ------------------------------------------------------------------ processes
    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["COURSESYNC_REDIS_URL"] = self.redis_url or ""
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def spawn(
        self,
        name: str,
        args: list[str],
        extra_env: dict[str, str] | None = None,
        wrap: list[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a process whose output goes to ``workdir/<name>.log``; ``wrap`` is a command
        prefix to run it under (``ip netns exec NS``: on another host of a test rig)."""
        log = (self.workdir / f"{name}.log").open("ab")
        self._logs.append(log)
        env = self.base_env()
        env.update(extra_env or {})
        proc = subprocess.Popen(
            [*(wrap or []), *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = proc
        return proc

    def start_sandbox(
        self, args: list[str] | None = None, port: int | None = None, *, host: str = "127.0.0.1",
        wrap: list[str] | None = None,
    ) -> str:  # fmt: skip
        port = port or free_port()
        command = [sys.executable, "-m", "sandbox", "--host", host, "--port", str(port), *(args or [])]
        self.spawn("sandbox", command, wrap=wrap)
        self.sandbox_url = f"http://{host}:{port}"
        _wait_http(self.sandbox_url + "/_sandbox/health", self.processes["sandbox"])
        return self.sandbox_url

    def start_worker(
        self,
        name: str = "worker",
        *,
        concurrency: int = 4,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        wrap: list[str] | None = None,
    ) -> None:
        """A ``celery worker``; ``env`` adds variables for this one process (a skewed clock...)."""
        args = [
            sys.executable, "-m", "celery", "-A", "workers", "worker",
            "--loglevel", "INFO", "--concurrency", str(concurrency),
            "--hostname", f"{name}@%h", "--without-mingle", "--without-gossip",
            *(extra or []),
        ]  # fmt: skip
        self.spawn(name, args, env, wrap)

    def start_beat(self, name: str = "beat", wrap: list[str] | None = None) -> None:
        schedule = self.workdir / f"{name}-schedule"
        self.spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(schedule),
            ],
            wrap=wrap,
        )

    def start_api(self, port: int | None = None, *, workers: int = 1) -> str:
        """`coursesync api` (gunicorn) on loopback; returns its base URL."""
        port = port or free_port()
        self.spawn("api", [sys.executable, "-m", "coursesync", "api", "--port", str(port),
                           "--workers", str(workers)])  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/v1/health", self.processes["api"])
        return url

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a process group (a Celery worker's pool children die with it)."""
        proc = self.processes.get(name)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.processes.clear()
        for log in self._logs:
            log.close()
        if self.private_redis is not None:
            self.private_redis.stop()
            self.private_redis = None

    def log_text(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")
