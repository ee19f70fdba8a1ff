"""Hosts on one machine: a network namespace each, joined by a Linux bridge through veth pairs.

Layout for a rig with prefix ``cs<pid>`` (interface names must fit in 15 characters)::

    root namespace:  bridge csb<pid> 10.A.B.1/24   (the test process reaches every host here)
                     veth cs<pid>-<host>  ──┐ one per host, the bridge side
    namespace cs-<pid>-<host>:  eth0 10.A.B.n/24  (the other end), lo

Cutting a host off (``partition``) downs the bridge side of its veth pair, a cable pulled at
the switch: the host keeps its address and routes, and whatever it sends, or is sent, vanishes
(no reset, no error: established TCP connections hang until their own timeouts). Impairing a
link (``impair``) is a ``tc netem`` rule on both ends of the pair, when the kernel has netem;
where it has not, ``drop`` loses packets at random with iptables instead (the latency then comes
from ``slowlink.py``, see ``hosts.py``). Everything made is removed by ``teardown``, which runs at
interpreter exit as well (iptables rules live in the host's namespace and go with it).
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from tests.debian import debian_tool

__all__ = ["LinkFault", "Network", "RigUnavailable", "rig_unavailable"]


class RigUnavailable(RuntimeError):
    """This machine cannot build the rig (not root, no iproute2)."""


def rig_unavailable() -> str | None:
    """Why the rig cannot run here, or None. Only these two reasons skip: anything else failing
    on a machine that has both is a failure of the rig, to be reported as one."""
    if os.geteuid() != 0:
        return "the multi-host rig needs root (network namespaces, veth, tc)"
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        return f"the multi-host rig needs iproute2 ({', '.join(missing)} not found)"
    return None


@dataclass(frozen=True)
class LinkFault:
    """Latency and loss on a link, each way: held ``delay_ms`` ± ``jitter_ms`` (uniform), and
    ``loss_pct`` of packets dropped."""

    delay_ms: int
    jitter_ms: int
    loss_pct: float

    @property
    def netem(self) -> str:
        return f"delay {self.delay_ms}ms {self.jitter_ms}ms loss {self.loss_pct}%"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


@dataclass
class Network:
    """Namespaces, bridge and links of one rig; ``add_host`` then ``address``/``wrap``."""

    tag: str = field(default_factory=lambda: f"cs{os.getpid()}")
    subnet: ipaddress.IPv4Network = field(default_factory=lambda: _free_subnet(os.getpid()))
    hosts: dict[str, str] = field(default_factory=dict)  # host name -> namespace
    _links: dict[str, str] = field(default_factory=dict)  # host name -> bridge-side veth

    def __post_init__(self) -> None:
        self.bridge = f"csb{self.tag[2:]}"[:15]
        atexit.register(self.teardown)
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)

    def add_host(self, name: str) -> str:
        """A namespace with one link to the bridge; returns its address."""
        ns, link = f"cs-{self.tag[2:]}-{name}", f"{self.tag}-{name}"[:15]
        address = str(self.subnet.network_address + 2 + len(self.hosts))
        sh("ip", "netns", "add", ns)
        self.hosts[name] = ns
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self._links[name] = link
        sh("ip", "link", "set", link, "master", self.bridge, "up")
        inside = ("ip", "netns", "exec", ns, "ip")
        sh(*inside, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        sh(*inside, "link", "set", "eth0", "up")
        sh(*inside, "link", "set", "lo", "up")
        return address

    def address(self, name: str) -> str:
        return str(self.subnet.network_address + 2 + list(self.hosts).index(name))

    def wrap(self, name: str) -> list[str]:
        """Command prefix that runs a program on host ``name``."""
        return ["ip", "netns", "exec", self.hosts[name]]

    def impair(self, name: str, netem: str) -> None:
        """``tc netem`` on both ends of the host's link, e.g. ``delay 200ms 50ms loss 5%``."""
        for side in self._sides(name):
            sh(*side, "qdisc", "replace", "dev", self._dev(name, side), "root", "netem", *netem.split())

    def drop(self, name: str, port: int, loss_pct: float) -> None:
        """``loss_pct`` of the TCP packets to and from ``port`` on host ``name`` dropped at random
        (iptables ``statistic``, in the host's namespace): netem's loss, for one port."""
        iptables = (*self.wrap(name), debian_tool("iptables", "iptables"))
        odds = f"{loss_pct / 100:.4f}"
        for chain, end in (("INPUT", "--dport"), ("OUTPUT", "--sport")):
            match = ("-p", "tcp", end, str(port))
            sh(*iptables, "-A", chain, *match)  # no target: only counts the packets, for ``losses``
            sh(
                *iptables,
                "-A",
                chain,
                *match,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                odds,
                "-j",
                "DROP",
            )

    def losses(self, name: str) -> tuple[int, int]:
        """Packets (seen, dropped) by ``drop``'s rules or ``impair``'s netem on host ``name``."""
        seen = dropped = 0
        if shutil.which("iptables"):
            for line in sh(*self.wrap(name), "iptables", "-S", "-v").stdout.splitlines():
                counted = re.search(r" -c (\d+) ", line)
                if not line.startswith("-A") or not counted:
                    continue
                if line.endswith("-j DROP"):
                    dropped += int(counted.group(1))
                else:
                    seen += int(counted.group(1))
        for side in self._sides(name):
            stats = sh(*side, "-s", "qdisc", "show", "dev", self._dev(name, side)).stdout
            for sent, lost in re.findall(r"netem.*?Sent \d+ bytes (\d+) pkt \(dropped (\d+)", stats, re.S):
                seen, dropped = seen + int(sent) + int(lost), dropped + int(lost)
        return seen, dropped

    def partition(self, name: str) -> None:
        """Every packet to and from host ``name`` dropped, silently."""
        sh("ip", "link", "set", self._links[name], "down")

    def heal(self, name: str) -> None:
        """Undo ``partition``, ``impair`` and ``drop``."""
        sh("ip", "link", "set", self._links[name], "up")
        if shutil.which("iptables"):
            sh(*self.wrap(name), "iptables", "-F", check=False)
        for side in self._sides(name):
            sh(*side, "qdisc", "del", "dev", self._dev(name, side), "root", check=False)

    def has_netem(self) -> bool:
        """Whether this kernel can run ``tc netem`` (sch_netem)."""
        name = next(iter(self._links))
        probe = sh(
            "tc", "qdisc", "replace", "dev", self._links[name], "root", "netem", "delay", "1ms", check=False
        )
        sh("tc", "qdisc", "del", "dev", self._links[name], "root", check=False)
        return probe.returncode == 0

    def _sides(self, name: str) -> list[tuple[str, ...]]:
        return [("tc",), ("ip", "netns", "exec", self.hosts[name], "tc")]

    def _dev(self, name: str, side: tuple[str, ...]) -> str:
        return self._links[name] if side == ("tc",) else "eth0"

    def teardown(self) -> None:
        """Remove namespaces (their veth ends go with them) and the bridge; safe to repeat."""
        for ns in self.hosts.values():
            sh("ip", "netns", "pids", ns, check=False)  # for the log, when processes linger
            sh("ip", "netns", "del", ns, check=False)
        self.hosts.clear()
        for link in self._links.values():
            sh("ip", "link", "del", link, check=False)
        self._links.clear()
        sh("ip", "link", "del", self.bridge, check=False)


def _free_subnet(seed: int) -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 no route of this machine covers (rigs of other test runs included)."""
    routes = sh("ip", "-4", "route", "show", "table", "all").stdout
    taken = []
    for line in routes.splitlines():
        word = line.split()[0] if line.split() else ""
        if word.startswith("local") or word.startswith("broadcast"):
            word = line.split()[1]
        try:
            taken.append(ipaddress.IPv4Network(word, strict=False))
        except ValueError:
            continue
    for k in range(256):
        n = (seed + k * 7919) % 65536
        subnet = ipaddress.IPv4Network(f"10.{n >> 8}.{n & 255}.0/24")
        if not any(subnet.overlaps(t) for t in taken if t.prefixlen > 0):
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 for the rig")
