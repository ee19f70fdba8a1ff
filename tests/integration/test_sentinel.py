"""Redis behind Sentinels, and a failover in the middle of a run.

A real group on loopback (a master, one replica, three Sentinels acting after 1 s of silence),
the real pipeline pointed at it through ``sentinel://`` in COURSESYNC_REDIS_URL, and the master
SIGKILLed mid-run. Replication is asynchronous: the promoted replica may lack the master's last
writes. Whatever it lacks, the run must still end, its counts must add up, and no item may count
as succeeded that the provider does not hold.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from coursesync.sentinel_group import SentinelGroup, start_sentinel_group
from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline, kombo_config, record_figures
from workers import lua
from workers.ledger import FINAL_STATES, item_errors, run_document
from workers.redis_client import client_for_url

pytestmark = pytest.mark.integration


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    found = start_sentinel_group(down_after_ms=1000, failover_timeout_ms=5000)
    try:
        yield found
    finally:
        found.stop()


def kill_master(group: SentinelGroup) -> float:
    """SIGKILL the master (no shutdown, no last replication); the monotonic time it died."""
    process = group.master.process
    assert process is not None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return time.monotonic()


def retrying(what: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """``what()`` once Redis answers again: during a failover every command fails for a while."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return what()
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_scripts_and_clients_follow_the_promoted_replica(group: SentinelGroup) -> None:
    r = client_for_url(group.url, decode_responses=True)
    old = group.master_address()
    r.hset("h", "a", "1")
    assert lua.run(r, "set_if_exists", keys=["h"], args=["b", "2"]) == 1
    # When the master dies and a Sentinel promotes the replica
    died = kill_master(group)
    retrying(lambda: r.hset("h", "c", "3"))
    recovered_s = time.monotonic() - died
    # Then the same client writes to the new master, and scripts run there, alone and in pipelines
    assert group.master_address() != old
    assert lua.run(r, "set_if_exists", keys=["h"], args=["d", "4"]) == 1
    pipe = r.pipeline()
    lua.run(pipe, "set_if_exists", keys=["h"], args=["e", "5"])
    assert pipe.execute() == [1]
    assert r.hgetall("h") == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    assert recovered_s < 15, recovered_s


def test_a_failover_mid_run_ends_the_run_with_exact_counts_and_nothing_claimed_unheld(
    group: SentinelGroup, start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pipeline whose every process reaches Redis through the Sentinels
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=4, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "1.0", "--latency-s", "0.3"],
        workers=2,
        concurrency=2,
        redis_url=group.url,
        env={
            "COURSESYNC_BATCH_LEASE_S": "8",
            "COURSESYNC_PROVIDER_TIMEOUT_S": "2.5",
            "COURSESYNC_DOCTOR_INTERVAL_S": "5",
        },
    )
    r = pipeline.use(monkeypatch)
    n = 1000
    started = time.monotonic()
    run_id = start_run("it-kombo", [course(i) for i in range(n)], SyncOptions(full=True), r=r)
    wait_until(lambda: batches(r, run_id)["completed"] >= 5, 60, "the first batches to settle")
    # When the master is SIGKILLed mid-run (what it had not yet replicated is lost)
    assert run_document(r, run_id)["state"] not in FINAL_STATES  # type: ignore[index]
    before = batches(r, run_id)
    last_offset = master_offset(group)
    died = kill_master(group)
    retrying(lambda: r.ping())
    redis_back_s = time.monotonic() - died
    lost = last_offset - retrying(lambda: promoted_from_offset(r))
    # Then the pipeline goes on on the promoted replica: a batch settles again...
    settled_at_failover = retrying(lambda: batches(r, run_id)["completed"])
    wait_until(
        lambda: retrying(lambda: batches(r, run_id)["completed"]) > settled_at_failover, 90, "progress"
    )
    progress_s = time.monotonic() - died
    # ...and the run ends
    doc = wait_for_end(r, run_id, timeout_s=150)
    ended_s = time.monotonic() - started
    c = doc["counts"]
    assert c["pending"] == 0 and c["total"] == n
    assert c["total"] == c["invalid"] + c["unchanged"] + c["excluded"] + c["succeeded"] + c["failed"], c
    # And no item counts as succeeded that the provider does not hold
    failed = {e["item_id"] for e in item_errors(r, run_id)}
    assert len(failed) == c["failed"]
    succeeded = {f"fo-{i}" for i in range(n)} - failed
    held = set(pipeline.sandbox("/_sandbox/held?provider=kombo")["kombo"])
    assert len(succeeded) == c["succeeded"] and succeeded <= held
    # And every process of the pipeline lived through it
    assert all(p.poll() is None for p in pipeline.stack.processes.values())
    stats = pipeline.sandbox("/_sandbox/stats")["kombo"]
    figures = {
        "items": n,
        "batches": doc["batches"]["total"],
        "settled_before_kill": before["completed"],
        "settled_at_failover": settled_at_failover,
        "unreplicated_bytes_lost": max(lost, 0),
        "redis_back_s": round(redis_back_s, 1),
        "first_settle_after_kill_s": round(progress_s, 1),
        "ended_s": round(ended_s, 1),
        "state": doc["state"],
        "succeeded": c["succeeded"],
        "failed": c["failed"],
        "remote_jobs": stats["tasks_created"],
        "replays": stats["idempotent_replays"],
        "items_received": stats["items_received"],
        "distinct_ids": stats["distinct_ids"],
    }
    print(figures)
    record_figures("Redis master SIGKILLed mid-run, Sentinel promotes the replica", **figures)


def course(i: int) -> dict[str, Any]:
    return {"id": f"fo-{i}", "title": f"T{i}", "url": f"https://a.example/fo/{i}"}


def batches(r: redis.Redis, run_id: str) -> dict[str, int]:
    doc = run_document(r, run_id)
    assert doc is not None, "the run's record is gone"
    return dict(doc["batches"])


def master_offset(group: SentinelGroup) -> int:
    """The master's replication offset (bytes of writes so far), read just before the kill."""
    return int(redis.Redis.from_url(group.master.url).info("replication")["master_repl_offset"])


def promoted_from_offset(r: redis.Redis) -> int:
    """How much of the old master's stream the promoted replica had when promoted: writes past
    it (up to the old master's last offset) are lost. At least what master_offset read then
    minus this; writes between that read and the kill add to it."""
    return int(r.info("replication")["second_repl_offset"]) - 1


def wait_until(ready: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def wait_for_end(r: redis.Redis, run_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = retrying(lambda: run_document(r, run_id))
        if doc and doc["state"] in FINAL_STATES:
            return dict(doc)
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not end: {run_document(r, run_id)}")
