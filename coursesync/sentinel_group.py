"""A private Redis Sentinel group on loopback, for failover tests: a master, its replicas and
the Sentinels watching them, all real ``redis-server`` processes (``--sentinel`` for those).

The Sentinels are told to act fast (``down_after_ms``): a test measures failover in seconds,
where production settings (30 s) would make it wait half a minute before anything happens.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from coursesync.redis_server import PrivateRedis, _binary, _free_port, launch, start_private_redis

__all__ = ["SentinelGroup", "start_sentinel_group"]


@dataclass
class SentinelGroup:
    """Processes this program started, and must stop."""

    name: str
    master: PrivateRedis
    replicas: list[PrivateRedis] = field(default_factory=list)
    sentinels: list[PrivateRedis] = field(default_factory=list)

    @property
    def url(self) -> str:
        """COURSESYNC_REDIS_URL naming the Sentinels (``workers.redis_url``)."""
        hosts = ";".join(s.url.removeprefix("redis://").removesuffix("/0") for s in self.sentinels)
        return f"sentinel://{hosts}/0?master={self.name}"

    def master_address(self) -> tuple[str, int]:
        """Where the Sentinels say the master is now."""
        for sentinel in self.sentinels:
            if sentinel.process is None or sentinel.process.poll() is not None:
                continue
            client = redis.Redis.from_url(sentinel.url, socket_timeout=1.0, decode_responses=True)
            try:
                host, port = _ask(client, "GET-MASTER-ADDR-BY-NAME", self.name)
                return str(host), int(port)
            except (redis.RedisError, TypeError):
                continue
            finally:
                client.close()
        raise RuntimeError(f"no Sentinel of {self.name} names a master")

    def stop(self) -> None:
        for server in [*self.sentinels, *self.replicas, self.master]:
            server.stop()


def start_sentinel_group(
    *, name: str = "coursesync", replicas: int = 1, sentinels: int = 3, down_after_ms: int = 1000,
    failover_timeout_ms: int = 5000, host: str = "127.0.0.1", wrap: list[str] | None = None,
) -> SentinelGroup:  # fmt: skip
    """Start the group and return once the replicas are in sync and the Sentinels, knowing each
    other and the replicas, could fail over (``SENTINEL CKQUORUM``). Every server binds ``host``
    and runs under the command prefix ``wrap`` (``ip netns exec NS``: another host), if given."""
    # Full syncs at once: Redis waits 5 s for more replicas before a diskless sync by default.
    fast_sync = ["--repl-diskless-sync-delay", "0"]
    group = SentinelGroup(name, start_private_redis(extra_args=fast_sync, host=host, wrap=wrap))
    try:
        master_port = int(group.master.url.rsplit(":", 1)[1].split("/")[0])
        for _ in range(replicas):
            replicaof = ["--replicaof", host, str(master_port)]
            group.replicas.append(
                start_private_redis(extra_args=[*fast_sync, *replicaof], host=host, wrap=wrap)
            )
        for _ in range(sentinels):
            group.sentinels.append(
                _start_sentinel(
                    name,
                    master_port,
                    sentinels // 2 + 1,
                    down_after_ms,
                    failover_timeout_ms,
                    host=host,
                    wrap=wrap,
                )
            )
        _wait(f"{replicas} replica(s) in sync", lambda: all(_in_sync(r) for r in group.replicas))
        _wait("the Sentinels to agree they can fail over", lambda: _quorum(group, replicas, sentinels))
    except BaseException:
        group.stop()
        raise
    return group


def _start_sentinel(
    name: str, master_port: int, quorum: int, down_after_ms: int, failover_ms: int, *, host: str,
    wrap: list[str] | None,
) -> PrivateRedis:  # fmt: skip
    directory = tempfile.mkdtemp(prefix="coursesync-sentinel-")
    port = _free_port()
    # A Sentinel rewrites its configuration file as it learns: it must be a file of its own.
    conf = Path(directory) / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind {host}\ndir {directory}\n"
        f"protected-mode {'yes' if host == '127.0.0.1' else 'no'}\n"
        f"sentinel monitor {name} {host} {master_port} {quorum}\n"
        f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
        f"sentinel failover-timeout {name} {failover_ms}\n"
        f"sentinel parallel-syncs {name} 1\n"
    )
    try:
        return launch([*(wrap or []), _binary(), str(conf), "--sentinel"], port, directory, host=host)
    except RuntimeError:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _in_sync(replica: PrivateRedis) -> bool:
    info = redis.Redis.from_url(replica.url, decode_responses=True).info("replication")
    return info.get("master_link_status") == "up"


def _quorum(group: SentinelGroup, replicas: int, sentinels: int) -> bool:
    for sentinel in group.sentinels:
        client = redis.Redis.from_url(sentinel.url, decode_responses=True)
        try:
            if len(_ask(client, "SENTINELS", group.name)) != sentinels - 1:
                return False
            if len(_ask(client, "REPLICAS", group.name)) != replicas:
                return False
            _ask(client, "CKQUORUM", group.name)
        except redis.ResponseError:
            return False
        finally:
            client.close()
    return True


def _ask(sentinel: redis.Redis, *args: str) -> Any:
    return sentinel.execute_command("SENTINEL", *args)  # type: ignore[no-untyped-call]


def _wait(what: str, ready: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"Sentinel group: gave up waiting for {what} after {timeout_s:.0f} s")
