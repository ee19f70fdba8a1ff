"""The pipeline spread over the rig's hosts: the processes each host runs, and the producer.

    redis     Redis master + replica + 3 Sentinels (one host: the failover is between processes)
    w1 w2 w3  one ``celery worker`` each, reaching Redis through ``sentinel://`` and the
              provider (the sandbox) over the bridge
    sandbox   the fake LMS
    beat      ``celery beat``, and the producer (``coursesync sync``)

Every process is stopped, and every namespace and link removed, by ``stop`` (also at exit).
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from coursesync.sentinel_group import SentinelGroup, start_sentinel_group
from coursesync.stack import Stack
from tests.rig.network import Network

__all__ = ["WORKERS", "Rig", "start_rig"]

WORKERS = ("w1", "w2", "w3")
HOSTS = ("redis", *WORKERS, "sandbox", "beat")


@dataclass
class Rig:
    net: Network
    group: SentinelGroup | None = None
    stack: Stack = field(default_factory=Stack)

    def sync(self, catalog: list[dict[str, Any]], connection: str = "it-kombo") -> str:
        """Run ``coursesync sync --full`` on the beat host, as an operator would; the run id."""
        path = self.stack.workdir / f"catalog-{len(list(self.stack.workdir.glob('catalog-*')))}.jsonl"
        path.write_text("".join(json.dumps(item) + "\n" for item in catalog))
        command = [
            *self.net.wrap("beat"),
            sys.executable,
            "-m",
            "coursesync",
            "sync",
            connection,
            str(path),
            "--full",
        ]
        done = subprocess.run(command, env=self.stack.base_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"coursesync sync failed ({done.returncode}): {done.stderr[-2000:]}"
        return done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        self.stack.stop()
        if self.group is not None:
            self.group.stop()
            self.group = None
        self.net.teardown()


def start_rig(
    config: str, *, env: dict[str, str], sandbox_args: list[str], concurrency: int = 2,
    worker_env: dict[str, dict[str, str]] | None = None,
) -> Rig:  # fmt: skip
    """Build the network, start every host's processes; ``config`` is a connections file with
    ``{sandbox}`` where the sandbox's base URL goes; ``worker_env`` adds variables per worker."""
    rig = Rig(Network())
    atexit.register(rig.stop)
    try:
        for host in HOSTS:
            rig.net.add_host(host)
        rig.group = start_sentinel_group(
            host=rig.net.address("redis"),
            wrap=rig.net.wrap("redis"),
            down_after_ms=1000,
            failover_timeout_ms=5000,
        )
        rig.stack = Stack(redis_url=rig.group.url, env=dict(env))
        sandbox = rig.stack.start_sandbox(
            sandbox_args, host=rig.net.address("sandbox"), wrap=rig.net.wrap("sandbox")
        )
        config_path = rig.stack.workdir / "coursesync.toml"
        config_path.write_text(config.replace("{sandbox}", sandbox))
        rig.stack.env["COURSESYNC_CONFIG"] = str(config_path)
        for host in WORKERS:
            extra = (worker_env or {}).get(host)
            rig.stack.start_worker(host, concurrency=concurrency, env=extra, wrap=rig.net.wrap(host))
        rig.stack.start_beat(wrap=rig.net.wrap("beat"))
    except BaseException:
        rig.stop()
        raise
    return rig
