"""`coursesync health` decides by work done: a ping task must be run, beat must tick."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis

from workers import keys
from workers.health import (
    answer_ping,
    check_beat,
    check_fleet,
    check_worker,
    forget_silent_workers,
    record_beat_tick,
)


@dataclass
class FakeControl:
    answering: list[str]
    queues: dict[str, list[str]] = field(default_factory=dict)

    def ping(self, timeout: float) -> list[dict[str, Any]]:
        return [{name: {"ok": "pong"}} for name in self.answering]

    def inspect(self, destination: list[str], timeout: float) -> Any:
        control = self

        class Inspect:
            def active_queues(self) -> dict[str, list[dict[str, str]]] | None:
                found = {n: [{"name": q} for q in control.queues.get(n, [])] for n in destination}
                return {n: qs for n, qs in found.items() if n in control.answering} or None

        return Inspect()


@dataclass
class FakeApp:
    """A broker with workers that either run what they are sent, or sit on it."""

    r: redis.Redis
    consuming: list[str]
    control: FakeControl
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send_task(self, name: str, kwargs: dict[str, Any], queue: Any = None, expires: float = 0) -> None:
        self.sent.append({"name": name, "queue": getattr(queue, "name", queue), "expires": expires})
        target = getattr(queue, "routing_key", None)
        runner = (
            target
            if target in self.consuming
            else (self.consuming[0] if self.consuming and not target else None)
        )
        if runner:
            answer_ping(self.r, kwargs["token"], runner)


def test_a_fleet_that_runs_the_ping_is_healthy(r: redis.Redis) -> None:
    app = FakeApp(r, ["worker@a"], FakeControl(["worker@a"]))
    result = check_fleet(app, r, timeout_s=1)
    assert result.ok and "worker@a ran a ping" in result.message
    assert app.sent == [{"name": "coursesync.ping", "queue": None, "expires": 1}]  # dropped if late
    assert r.hget(keys.WORKER_HEARTBEATS, "worker@a") is not None


def test_workers_that_answer_but_do_not_consume_make_the_fleet_unhealthy(r: redis.Redis) -> None:
    # Given a worker alive on the control channel that runs no task (celery #8030)
    app = FakeApp(r, [], FakeControl(["worker@a"]))
    result = check_fleet(app, r, timeout_s=0.2)
    assert not result.ok
    assert "1 worker(s) answer control commands (worker@a)" in result.message
    assert "stopped consuming" in result.message


def test_no_worker_at_all_is_said_plainly(r: redis.Redis) -> None:
    result = check_fleet(FakeApp(r, [], FakeControl([])), r, timeout_s=0.2)
    assert not result.ok and "none answers control commands" in result.message


def test_one_worker_is_checked_through_its_own_queue_and_must_consume_the_shared_one(r: redis.Redis) -> None:
    control = FakeControl(["worker@a", "worker@b"], {"worker@a": ["coursesync", "worker@a.dq2"]})
    control.queues["worker@b"] = ["worker@b.dq2"]  # its consumer of the shared queue was cancelled
    app = FakeApp(r, ["worker@a", "worker@b"], control)
    assert check_worker(app, r, "worker@a", timeout_s=1).ok
    assert app.sent[-1]["queue"] == "worker@a.dq2"
    cancelled = check_worker(app, r, "worker@b", timeout_s=1)
    assert not cancelled.ok and "no longer consumes queue 'coursesync'" in cancelled.message
    stalled = check_worker(FakeApp(r, [], control), r, "worker@a", timeout_s=0.2)
    assert not stalled.ok and "yet answers control commands" in stalled.message
    gone = check_worker(app, r, "worker@zzz", timeout_s=0.2)
    assert not gone.ok and "does not answer control commands" in gone.message


def test_beat_is_healthy_while_it_ticks(r: redis.Redis) -> None:
    assert not check_beat(r, max_idle_s=30).ok
    record_beat_tick(r)
    assert check_beat(r, max_idle_s=30).ok
    r.set(keys.BEAT_TICK, int((time.time() - 120) * 1000))
    stale = check_beat(r, max_idle_s=30)
    assert not stale.ok and "beat last ticked 120 s ago" in stale.message


def test_heartbeats_of_workers_gone_for_a_day_are_forgotten(r: redis.Redis) -> None:
    now_ms = int(time.time() * 1000)
    r.hset(keys.WORKER_HEARTBEATS, mapping={"worker@old": now_ms - 2 * 86400_000, "worker@new": now_ms})
    assert forget_silent_workers(r) == 1
    assert list(r.hkeys(keys.WORKER_HEARTBEATS)) == ["worker@new"]


def test_the_command_says_unhealthy_at_once_when_redis_is_unreachable(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from coursesync.cli import main

    monkeypatch.setenv("COURSESYNC_REDIS_URL", "redis://127.0.0.1:1/0")
    started = time.monotonic()
    assert main(["health", "--timeout-s", "1"]) == 1
    assert "cannot reach Redis" in capsys.readouterr().err
    assert time.monotonic() - started < 5
