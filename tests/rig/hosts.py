"""The pipeline spread over the rig's hosts: the processes each host runs, and the producer.

    redis     Redis master + replica + 3 Sentinels (one host: the failover is between processes)
    w1 w2 w3  one ``celery worker`` each, reaching Redis through ``sentinel://`` and the
              provider (the sandbox) over the bridge
    sandbox   the fake LMS; with a ``LinkFault``, its link slowed and lossy (netem), or, on a
              kernel without netem, ``slowlink.py`` in front of it and iptables dropping packets
              to and from the proxy's port
    beat      ``celery beat``, and the producer (``coursesync sync``)

Every process is stopped, and every namespace and link removed, by ``stop`` (also at exit).
"""

from __future__ import annotations

import atexit
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursesync.sentinel_group import SentinelGroup, start_sentinel_group
from coursesync.stack import Stack, free_port
from tests.rig import slowlink
from tests.rig.network import LinkFault, Network

__all__ = ["WORKERS", "Rig", "start_rig"]

WORKERS = ("w1", "w2", "w3")
HOSTS = ("redis", *WORKERS, "sandbox", "beat")


@dataclass
class Rig:
    net: Network
    group: SentinelGroup | None = None
    stack: Stack = field(default_factory=Stack)
    #: How the provider's link was degraded, for the test's output ("" when it was not).
    link_fault_by: str = ""

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
    worker_env: dict[str, dict[str, str]] | None = None, link_fault: LinkFault | None = None,
) -> Rig:  # fmt: skip
    """Build the network, start every host's processes; ``config`` is a connections file with
    ``{sandbox}`` where the sandbox's base URL goes; ``worker_env`` adds variables per worker;
    ``link_fault`` degrades the link between the workers and the sandbox from the start."""
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
        if link_fault is not None:
            sandbox = degrade_provider(rig, sandbox, link_fault)
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


def degrade_provider(rig: Rig, url: str, fault: LinkFault) -> str:
    """The sandbox's link degraded by ``fault``; the URL the workers are to use."""
    if rig.net.has_netem():
        rig.net.impair("sandbox", fault.netem)
        rig.link_fault_by = f"tc netem {fault.netem}, both ends of the sandbox's link"
        return url
    host, port = rig.net.address("sandbox"), free_port()
    proxy = [sys.executable, str(Path(slowlink.__file__)), f"{host}:{port}", url.removeprefix("http://")]
    proxy += ["--delay-ms", str(fault.delay_ms), "--jitter-ms", str(fault.jitter_ms)]
    process = rig.stack.spawn("slowlink", proxy, wrap=rig.net.wrap("sandbox"))
    _wait_listening(host, port, process)
    rig.net.drop("sandbox", port, fault.loss_pct)
    rig.link_fault_by = (
        f"no sch_netem in this kernel: slowlink.py holding each chunk {fault.delay_ms} ± {fault.jitter_ms} ms"
        f" each way, iptables dropping {fault.loss_pct}% of packets to and from its port each way"
    )
    return f"http://{host}:{port}"


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"slowlink did not listen on {host}:{port} (exit code {process.poll()})")
