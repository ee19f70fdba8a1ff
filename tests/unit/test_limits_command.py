"""`coursesync limits`: each budget with its limits, its use and who waits on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from coursesync.cli import main
from workers import keys
from workers.providers.registry import get_connection
from workers.ratelimit import Limits

CONFIG = """
[connections.acme]
provider = "stackone"
base_url = "https://api.stackone.com"
api_key = "env:VENDOR_KEY"
account_id = "acme"
weight = 2

[connections.globex]
provider = "stackone"
base_url = "https://api.stackone.com"
api_key = "env:VENDOR_KEY"
account_id = "globex"
max_requests_per_minute = 100

[connections.alone]
provider = "stackone"
base_url = "https://api.stackone.com"
api_key = "env:OTHER_KEY"
account_id = "alone"
"""


@pytest.fixture
def configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_server: str, r: redis.Redis
) -> redis.Redis:
    path = tmp_path / "coursesync.toml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("COURSESYNC_CONFIG", str(path))
    monkeypatch.setenv("COURSESYNC_REDIS_URL", redis_server)
    return r


def test_connections_on_one_key_show_as_one_budget_with_use_and_shares(
    configured: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    r = configured
    limits = Limits.on(r)
    for _ in range(5):
        limits.spend(get_connection("acme"), "requests")
    r.rpush(keys.ready("acme"), "b1", "b2")
    r.rpush(keys.ready("globex", "low"), "b3")
    assert main(["limits", "acme", "--json"]) == 0
    (budget,) = json.loads(capsys.readouterr().out)
    assert budget["windows"] == ["1000/min"] and budget["used_last_minute"] == 5
    members = {m["name"]: m for m in budget["members"]}
    assert set(members) == {"acme", "globex"}  # not "alone": another key
    assert (
        members["acme"]["share"] == pytest.approx(2 / 3, abs=1e-3) and members["globex"]["waiting_low"] == 1
    )
    assert members["globex"]["own_cap"] == ["100/min"]
    assert "VENDOR_KEY" not in budget["id"]


def test_the_text_report_names_pauses_and_waiting_connections(
    configured: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    Limits.on(configured).pause(get_connection("globex"), "requests", 30, "HTTP 429")
    configured.rpush(keys.ready("acme"), "b1")
    assert main(["limits"]) == 0
    out = capsys.readouterr().out
    assert "limit 1000/min" in out and "paused" in out and "HTTP 429" in out
    assert "1 of 2 connection(s) waiting" in out and "1 of 1 connection(s) waiting" not in out
