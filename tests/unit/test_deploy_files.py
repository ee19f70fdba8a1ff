"""The Procfile and docker-compose.yml describe the same processes, started the same way."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        kind: shlex.split(cmd) for kind, _, cmd in (line.partition(":") for line in lines if line.strip())
    }


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def test_compose_and_procfile_run_the_same_processes_with_the_same_commands() -> None:
    services = {name: s for name, s in compose()["services"].items() if name != "redis"}
    assert set(services) == set(procfile())
    for kind, command in procfile().items():
        assert command == ["scripts/start", kind]
        assert services[kind]["command"] == command
        assert services[kind]["image"] == "coursesync:local"  # one image for all


def test_scripts_start_knows_every_process_kind() -> None:
    script = (ROOT / "scripts" / "start").read_text()
    kinds = set(re.findall(r"^\s+(\w+)\)$", script, flags=re.MULTILINE))
    assert kinds == set(procfile())


def test_redis_persists_with_aof() -> None:
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_workers_and_beat_are_checked_by_coursesync_health() -> None:
    services = compose()["services"]
    assert services["worker"]["healthcheck"]["test"][1:4] == ["coursesync", "health", "--worker"]
    assert services["beat"]["healthcheck"]["test"][1:4] == ["coursesync", "health", "--beat"]


def test_flower_and_metrics_get_their_credentials_from_the_environment() -> None:
    services = compose()["services"]
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    metrics_auth = services["metrics"]["environment"]["COURSESYNC_METRICS_AUTH"]
    assert metrics_auth.startswith("${COURSESYNC_METRICS_AUTH:?")
    # and the rest of their environment is the shared one
    assert services["flower"]["environment"]["COURSESYNC_REDIS_URL"] == "redis://redis:6379/0"


def test_nothing_unauthenticated_is_published_beyond_this_host() -> None:
    services = compose()["services"]
    # The sandbox answers anyone: loopback only. Redis is not published at all.
    assert all(str(p).startswith("127.0.0.1:") for p in services["sandbox"].get("ports", []))
    assert "ports" not in services["redis"]
    assert "noeviction" in services["redis"]["command"]
