"""The ledger under crashes at unlucky moments, skewed clocks and a full Redis (real processes).

Each scenario runs the real pipeline (Redis, ``celery worker``/``beat`` processes, the sandbox
on loopback), breaks one thing, and then checks what the product promises: the run ends, its
counts add up (``total = invalid + unchanged + succeeded + failed``, nothing pending), the
provider saw at most one remote job per batch, and no item counts as succeeded that the
provider does not hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from producers.sync import SyncOptions, start_run
from tests.integration.conftest import Pipeline, kombo_config, record_figures
from tests.integration.test_faults import items, kombo_courses
from workers import keys
from workers.crashpoints import CRASH_POINTS
from workers.ledger import item_errors

pytestmark = pytest.mark.integration

SECRETS = {"IT_L360_CLIENT_ID": "sandbox-360-client", "IT_L360_CLIENT_SECRET": "sandbox-360-secret"}
#: Short request deadlines, so the batch lock and lease of a killed worker run out in seconds
#: (Kombo: lock 9 s, lease 11 s; 360Learning: lock 24 s, lease 26 s; see workers.timing).
FAST_RECOVERY = {"COURSESYNC_PROVIDER_TIMEOUT_S": "1.5", "COURSESYNC_BATCH_LEASE_S": "8"}
#: The doctor looks every 2 s and ends a run whose producer has been silent for 5 s.
QUICK_DOCTOR = {"COURSESYNC_DOCTOR_INTERVAL_S": "2", "COURSESYNC_PRODUCER_SILENCE_S": "5",
                "COURSESYNC_PRODUCER_HEARTBEAT_S": "1"}  # fmt: skip


def two_providers(url: str) -> str:
    return (
        kombo_config(url, batch_size=20, max_in_flight=4, requests_per_minute=60_000)
        + f"""
[connections.it-360]
provider = "360learning"
base_url = "{url}/360learning"
client_id = "env:IT_L360_CLIENT_ID"
client_secret = "env:IT_L360_CLIENT_SECRET"
batch_size = 20
default_source = "Crash Academy"
default_subjects = ["reliability"]

[connections.it-360.integration]
external_platform = "coursesync-crash"
group_id = "5f1a2b3c4d5e6f7a8b9c0d1e"
author_id = "5f1a2b3c4d5e6f7a8b9c0d1f"
"""
    )


@pytest.fixture(scope="module")
def crash_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crashpoints")


@pytest.fixture(scope="module")
def crashable(start_pipeline: Callable[..., Pipeline], crash_dir: Path) -> Pipeline:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SECRETS.items():
            mp.setenv(name, value)
        return start_pipeline(
            config=two_providers,
            sandbox_args=["--kombo-pending-s", "0.5", "--l360-pending-s", "0.5", "--latency-s", "0.1"],
            workers=2,
            concurrency=2,
            env={**FAST_RECOVERY, **QUICK_DOCTOR, "COURSESYNC_CRASH_DIR": str(crash_dir)},
        )


def arm(crash_dir: Path, point: str) -> None:
    for old in crash_dir.iterdir():
        old.unlink()
    (crash_dir / f"{point}.armed").touch()


def fired(crash_dir: Path, point: str) -> bool:
    return (crash_dir / f"{point}.fired").exists()


def assert_counts_add_up(doc: dict[str, Any]) -> None:
    c = doc["counts"]
    assert c["pending"] == 0, doc
    assert c["total"] == c["invalid"] + c["unchanged"] + c["succeeded"] + c["failed"], doc
    b = doc["batches"]
    assert b["total"] == b["completed"] + b["failed"] + b["split"] and b["pending"] == b["submitted"] == 0, b


def provider_stats(pipeline: Pipeline, provider: str) -> dict[str, int]:
    found: dict[str, int] = pipeline.sandbox("/_sandbox/stats")[provider]
    return found


def confirmed_ids(r: redis.Redis, run_id: str, ids: list[str]) -> set[str]:
    """The ids that have a digest (the provider confirmed them) at the run's target."""
    target = r.hget(keys.run(run_id), "target")
    assert target
    pipe = r.pipeline()
    for i in ids:
        pipe.hget(keys.content_hashes(target, keys.item_bucket(i)), i)
    return {i for i, d in zip(ids, pipe.execute(), strict=True) if d is not None}


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if not p.startswith("producer.")])
def test_a_worker_killed_at_each_step_of_a_kombo_batch_ends_the_run_exactly_with_one_job_per_batch(
    crashable: Pipeline, crash_dir: Path, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = crashable.use(monkeypatch)
    before = provider_stats(crashable, "kombo")
    # Given a worker that will be SIGKILLed the first time any process reaches this step
    arm(crash_dir, point)
    catalog = items(100, point.replace(".", "-"))
    started = time.monotonic()
    run_id = start_run("it-kombo", catalog, SyncOptions(full=True), r=r)
    # When the run goes on without it
    doc = crashable.wait_for_run(r, run_id, timeout_s=120)
    took_s = time.monotonic() - started
    # Then the crash happened, and the run still ended with every item succeeded
    assert fired(crash_dir, point), f"no process reached {point}"
    assert_counts_add_up(doc)
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 100, doc["errors"][:3]
    # And Kombo saw one task per batch: a resent body was answered with the task it made
    after = provider_stats(crashable, "kombo")
    assert after["tasks_created"] - before["tasks_created"] == doc["batches"]["total"] == 5
    held = {c["origin_id"] for c in kombo_courses(crashable)}
    assert {i["id"] for i in catalog} <= held
    # And a digest is only ever kept for an item the provider holds
    assert confirmed_ids(r, run_id, [i["id"] for i in catalog]) <= held
    record_figures(f"kombo worker SIGKILLed at {point}", items=100, batches=5, ended_s=round(took_s, 1),
                   succeeded=doc["counts"]["succeeded"], failed=doc["counts"]["failed"],
                   remote_jobs=after["tasks_created"] - before["tasks_created"],
                   replays=after["idempotent_replays"] - before["idempotent_replays"])  # fmt: skip


@pytest.mark.parametrize("point", ["submit.before_send", "submit.after_send", "poll.after_answer"])
def test_a_worker_killed_mid_send_to_360learning_never_starts_a_second_operation(
    crashable: Pipeline, crash_dir: Path, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = crashable.use(monkeypatch)
    before = provider_stats(crashable, "360learning")
    arm(crash_dir, point)
    catalog = items(60, "l360-" + point.replace(".", "-"))
    started = time.monotonic()
    run_id = start_run("it-360", catalog, SyncOptions(full=True), r=r)
    doc = crashable.wait_for_run(r, run_id, timeout_s=150)
    took_s = time.monotonic() - started
    assert fired(crash_dir, point), f"no process reached {point}"
    assert_counts_add_up(doc)
    after = provider_stats(crashable, "360learning")
    operations = after["operations_created"] - before["operations_created"]
    # 360Learning starts a new bulk operation for every PUT: a batch whose send may have
    # reached it is never sent again; its items fail as unverified and keep no digest
    assert operations <= doc["batches"]["total"] == 3
    unverified = [e for e in item_errors(r, run_id) if e["code"] == "coursesync.UNVERIFIED"]
    if point.startswith("submit."):
        assert len(unverified) == 20 and doc["counts"]["failed"] == 20, doc["errors"][:3]
        assert not confirmed_ids(r, run_id, [e["item_id"] for e in unverified])
    else:
        assert doc["state"] == "completed" and not unverified
    record_figures(f"360learning worker SIGKILLed at {point}", items=60, batches=3, ended_s=round(took_s, 1),
                   succeeded=doc["counts"]["succeeded"], failed=doc["counts"]["failed"],
                   unverified=len(unverified), remote_jobs=operations)  # fmt: skip


def test_a_producer_killed_mid_catalog_leaves_a_run_that_ends_with_the_reason_and_exact_counts(
    crashable: Pipeline, crash_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = crashable.use(monkeypatch)
    # Given `coursesync sync` reading a 3,000-item catalog, killed right after its first batch
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items(3000, "producer")))
    arm(crash_dir, "producer.after_batch")
    started = time.monotonic()
    env = {**crashable.stack.base_env(), **crashable.env, "COURSESYNC_CRASH_DIR": str(crash_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "coursesync.cli", "sync", "it-kombo", str(path), "--full"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9 and fired(crash_dir, "producer.after_batch")
    run_id = str(r.zrevrange(keys.RUNS_INDEX, 0, 0)[0])
    # When the doctor notices its silence (beat runs it every 2 s; silence limit 5 s)
    doc = crashable.wait_for_run(r, run_id, timeout_s=60)
    # Then the run ended failed, saying why, and every item it counted is accounted for
    assert doc["state"] == "failed" and "producer stopped" in doc["reason"], doc
    assert_counts_add_up(doc)
    assert doc["counts"]["succeeded"] == 20 and doc["counts"]["failed"] == doc["counts"]["total"] - 20
    assert any(e["code"] == "coursesync.NEVER_SENT" for e in doc["errors"])
    record_figures("producer SIGKILLed after its first batch", read=doc["counts"]["total"],
                   succeeded=doc["counts"]["succeeded"], failed=doc["counts"]["failed"],
                   ended_s=round(time.monotonic() - started, 1))  # fmt: skip


def test_workers_with_clocks_five_minutes_apart_end_every_run_exactly_once_each(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three workers: one 5 minutes ahead, one 5 minutes behind, one on time (libfaketime)
    libfaketime = pytest.importorskip("libfaketime", reason="libfaketime comes with the dev extras")
    so = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    assert so.exists(), so
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=4, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "0.5", "--latency-s", "0.1"],
        workers=1,
        concurrency=2,
        env=FAST_RECOVERY,
    )
    for name, offset in (("ahead", "+5m"), ("behind", "-5m")):
        skew = {"LD_PRELOAD": str(so), "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        pipeline.stack.start_worker(name, concurrency=2, env=skew)
    r = pipeline.use(monkeypatch)
    probe = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        env={**pipeline.stack.base_env(), "LD_PRELOAD": str(so), "FAKETIME": "+5m"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(probe.stdout) - time.time() > 290  # the skew is real
    # When two runs go through the skewed fleet
    started = time.monotonic()
    runs = [start_run("it-kombo", items(400, f"skew{k}"), SyncOptions(full=True), r=r) for k in range(2)]
    docs = [pipeline.wait_for_run(r, run_id, timeout_s=180) for run_id in runs]
    # Then each ends with every item succeeded, and no batch was sent as two tasks
    for doc in docs:
        assert doc["state"] == "completed" and doc["counts"]["succeeded"] == 400, doc["errors"][:3]
        assert_counts_add_up(doc)
    stats = provider_stats(pipeline, "kombo")
    assert stats["tasks_created"] == sum(d["batches"]["total"] for d in docs) == 40
    assert stats["distinct_ids"] == 800
    # And the skewed workers did take part
    took = [pipeline.stack.log_text(w).count("coursesync.submit_batch") for w in ("ahead", "behind")]
    assert all(took), took
    record_figures("3 workers, clocks -5 min / 0 / +5 min", items=800, batches=40,
                   ended_s=round(time.monotonic() - started, 1), remote_jobs=stats["tasks_created"],
                   succeeded=sum(d["counts"]["succeeded"] for d in docs))  # fmt: skip


def test_redis_refusing_writes_at_maxmemory_mid_run_ends_every_run_with_exact_counts(
    start_pipeline: Callable[..., Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pipeline on a Redis of its own, with no eviction (the only safe policy)
    pipeline = start_pipeline(
        config=lambda url: kombo_config(url, batch_size=20, max_in_flight=4, requests_per_minute=60_000),
        sandbox_args=["--kombo-pending-s", "0.5", "--latency-s", "0.1"],
        workers=2,
        concurrency=2,
        aof_redis=True,
        env={**FAST_RECOVERY, **QUICK_DOCTOR},
    )
    r = pipeline.use(monkeypatch)
    r.config_set("maxmemory-policy", "noeviction")
    n = 1000
    started = time.monotonic()
    run_id = start_run("it-kombo", items(n, "oom"), SyncOptions(full=True), r=r)
    time.sleep(1.5)
    # When Redis refuses every write that needs memory for 6 s, mid-run
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", max(1, used - 256 * 1024))
    time.sleep(6)
    r.config_set("maxmemory", 0)
    # Then the run still ends, with exact counts, and Kombo holds each item once per task
    doc = pipeline.wait_for_run(r, run_id, timeout_s=180)
    assert all(p.poll() is None for p in pipeline.stack.processes.values())  # none died
    assert_counts_add_up(doc)
    assert doc["counts"]["total"] == n
    stats = provider_stats(pipeline, "kombo")
    assert stats["tasks_created"] <= doc["batches"]["total"]
    held = {c["origin_id"] for c in kombo_courses(pipeline)}
    assert confirmed_ids(r, run_id, [i["id"] for i in items(n, "oom")]) <= held
    record_figures("Redis refusing writes (maxmemory) for 6 s mid-run", items=n,
                   batches=doc["batches"]["total"], ended_s=round(time.monotonic() - started, 1),
                   succeeded=doc["counts"]["succeeded"], failed=doc["counts"]["failed"],
                   remote_jobs=stats["tasks_created"], state=doc["state"])  # fmt: skip
