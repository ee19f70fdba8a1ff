"""Faults between hosts: the pipeline spread over network namespaces on one machine (tests/rig).

Hosts: redis (master, replica, 3 Sentinels), w1 w2 w3 (a worker each), sandbox (the provider),
beat (beat and the producer), joined by a bridge. Each scenario runs one ~800-item Kombo sync
and, mid-run, cuts a worker host off, kills the Redis master, runs a worker's clock ahead, or
degrades the links to the provider. After each: the run ends, its counts add up, every item
counted succeeded is held by the provider, and the figures go to RELIABILITY.md.

Skipped, loudly, only where the rig cannot be built at all (not root, no iproute2); on a
machine that can build it, anything going wrong is a failure.
"""

from __future__ import annotations

import re
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.conftest import FAST_ENV, kombo_config, record_figures
from tests.integration.test_sentinel import (
    batches,
    kill_master,
    master_offset,
    promoted_from_offset,
    retrying,
    wait_for_end,
    wait_until,
)
from tests.rig.hosts import WORKERS, Rig, start_rig
from tests.rig.network import LinkFault, rig_unavailable
from workers.ledger import FINAL_STATES, item_errors, run_document
from workers.redis_client import client_for_url

pytestmark = pytest.mark.integration

N_ITEMS = 800
#: How long worker host w1 is cut off (the issue's figure).
PARTITION_S = 60.0
RIG_ENV = {
    **FAST_ENV,
    # The provider is on another host of the rig: a 10.x address.
    "COURSESYNC_OUTBOUND_ALLOW": "private",
    "COURSESYNC_BATCH_LEASE_S": "8",
    "COURSESYNC_PROVIDER_TIMEOUT_S": "2.5",
    "COURSESYNC_DOCTOR_INTERVAL_S": "5",
}
#: Kombo's own answer time: every request waits this long in the sandbox.
SANDBOX_LATENCY_S = 0.3
SANDBOX_ARGS = ["--kombo-pending-s", "1.0", "--latency-s", str(SANDBOX_LATENCY_S)]
#: The issue's figures, each way between the workers and the provider.
SLOW_LOSSY_LINK = LinkFault(delay_ms=200, jitter_ms=50, loss_pct=5.0)


@pytest.fixture
def build_rig() -> Iterator[Callable[..., Rig]]:
    reason = rig_unavailable()
    if reason:
        message = (
            f"MULTI-HOST RIG NOT RUN: {reason}; the partition/failover/clock/netem scenarios are untested"
        )
        warnings.warn(message, pytest.PytestWarning, stacklevel=1)
        print("\n" + "!" * 20 + " " + message + " " + "!" * 20)
        pytest.skip(message)
    rigs: list[Rig] = []

    def build(**kwargs: Any) -> Rig:
        kwargs.setdefault("sandbox_args", SANDBOX_ARGS)
        config = kombo_config("{sandbox}", batch_size=20, max_in_flight=4, requests_per_minute=60_000)
        rigs.append(start_rig(config, env={**RIG_ENV, **kwargs.pop("env", {})}, **kwargs))
        return rigs[-1]

    yield build
    for rig in rigs:
        rig.stop()


def test_a_worker_host_cut_off_for_60_s_mid_run_leaves_exact_counts_and_comes_back(
    build_rig: Callable[..., Rig],
) -> None:
    # Given the pipeline over six hosts, a run under way
    rig = build_rig()
    r, started = state(rig), time.monotonic()
    run_id = rig.sync(catalog(N_ITEMS, "part"))
    wait_until(lambda: batches(r, run_id)["completed"] >= 3, 60, "the first batches to settle")
    assert run_document(r, run_id)["state"] not in FINAL_STATES  # type: ignore[index]
    # When worker host w1 is cut off from everything (its packets silently dropped)
    rig.net.partition("w1")
    cut = time.monotonic()
    # Then the run ends without it, its counts exact, nothing claimed that Kombo does not hold
    doc = wait_for_end(r, run_id, timeout_s=150)
    ended = time.monotonic()
    figures = accounted(rig, r, doc, "part")
    # And once the link is back (after 60 s), w1 is alive and takes tasks again
    time.sleep(max(0.0, cut + PARTITION_S - time.monotonic()))
    done_before = tasks_done(rig, "w1")
    rig.net.heal("w1")
    healed = time.monotonic()
    wait_until(lambda: tasks_done(rig, "w1") > done_before, 90, "w1 to take a task after the partition")
    rejoined_s = time.monotonic() - healed
    assert all(p.poll() is None for p in rig.stack.processes.values()), "a process died"
    figures |= {
        "partition_s": PARTITION_S,
        "ended_after_cut_s": round(ended - cut, 1),
        "ended_s": round(ended - started, 1),
        "w1_back_at_work_after_heal_s": round(rejoined_s, 1),
        **share(rig),
    }
    print(figures)
    record_figures("rig: worker host w1 cut off for 60 s mid-run", **figures)


def test_the_redis_host_losing_its_master_mid_run_fails_over_with_exact_counts(
    build_rig: Callable[..., Rig],
) -> None:
    # Given the pipeline over six hosts, a run under way
    rig = build_rig()
    assert rig.group is not None
    r, started = state(rig), time.monotonic()
    run_id = rig.sync(catalog(N_ITEMS, "fo"))
    wait_until(lambda: batches(r, run_id)["completed"] >= 5, 60, "the first batches to settle")
    assert run_document(r, run_id)["state"] not in FINAL_STATES  # type: ignore[index]
    # When the master is SIGKILLed; a Sentinel promotes the replica
    settled_before = batches(r, run_id)["completed"]
    last_offset = master_offset(rig.group)
    died = kill_master(rig.group)
    retrying(lambda: r.ping())
    redis_back_s = time.monotonic() - died
    lost = last_offset - retrying(lambda: promoted_from_offset(r))
    at_failover = retrying(lambda: batches(r, run_id)["completed"])
    wait_until(lambda: retrying(lambda: batches(r, run_id)["completed"]) > at_failover, 90, "progress")
    progress_s = time.monotonic() - died
    # Then the run ends, counts exact, nothing claimed that Kombo does not hold
    doc = wait_for_end(r, run_id, timeout_s=150)
    figures = accounted(rig, r, doc, "fo")
    assert all(p.poll() is None for p in rig.stack.processes.values()), "a process died"
    figures |= {
        "settled_before_kill": settled_before,
        "unreplicated_bytes_lost": max(lost, 0),
        "redis_back_s": round(redis_back_s, 1),
        "first_settle_after_kill_s": round(progress_s, 1),
        "ended_s": round(time.monotonic() - started, 1),
    }
    print(figures)
    record_figures("rig: Redis master SIGKILLed mid-run, Sentinel promotes the replica", **figures)


def test_a_worker_host_five_minutes_ahead_changes_nothing_in_the_outcome(
    build_rig: Callable[..., Rig],
) -> None:
    # Given worker host w3's clock 5 minutes ahead (libfaketime; monotonic clocks left alone)
    libfaketime = pytest.importorskip("libfaketime", reason="libfaketime comes with the dev extras")
    so = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    assert so.exists(), so
    skew = {"LD_PRELOAD": str(so), "FAKETIME": "+5m", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    rig = build_rig(worker_env={"w3": skew})
    r, started = state(rig), time.monotonic()
    # When a run goes through the fleet
    doc = wait_for_end(r, rig.sync(catalog(N_ITEMS, "clk")), timeout_s=150)
    # Then it completes, every item once, and the skewed host took its share
    figures = accounted(rig, r, doc, "clk")
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == N_ITEMS, doc["errors"][:3]
    assert figures["remote_jobs"] == figures["batches"], figures
    figures |= {"ended_s": round(time.monotonic() - started, 1), **share(rig)}
    assert figures["w3_batches"] > 0, figures
    print(figures)
    record_figures("rig: worker host w3 five minutes ahead", **figures)


def test_latency_and_loss_between_the_workers_and_the_provider_leave_exact_counts(
    build_rig: Callable[..., Rig],
) -> None:
    # Given every packet between the workers and Kombo held 200 ± 50 ms and 5% of them lost,
    # each way, from the start (netem, or where the kernel has none a proxy and iptables)
    rig = build_rig(link_fault=SLOW_LOSSY_LINK)
    print(f"\nlink fault: {rig.link_fault_by}")
    r, started = state(rig), time.monotonic()
    # When a run goes through the fleet
    doc = wait_for_end(r, rig.sync(catalog(N_ITEMS, "slow")), timeout_s=120)
    ended_s = time.monotonic() - started
    # Then it ends, counts exact, nothing claimed that Kombo does not hold; remote jobs per
    # batch and duplicate items are figures of the run
    figures = accounted(rig, r, doc, "slow")
    assert all(p.poll() is None for p in rig.stack.processes.values()), "a process died"
    # And the fault did bite: packets were lost, submissions slowed
    seen, dropped = rig.net.losses("sandbox")
    times_ms, attempts = submissions(rig)
    fastest_ms = SANDBOX_LATENCY_S * 1000 + 2 * (SLOW_LOSSY_LINK.delay_ms - SLOW_LOSSY_LINK.jitter_ms)
    assert dropped > 0 and min(times_ms) >= fastest_ms, (dropped, sorted(times_ms)[:5])
    figures |= {
        "link_fault": rig.link_fault_by,
        "ended_s": round(ended_s, 1),
        "duplicate_items": figures["items_received"] - figures["distinct_ids"],
        "packets_seen": seen,
        "packets_dropped": dropped,
        "submit_ms_median": int(statistics.median(times_ms)),
        "submit_ms_max": max(times_ms),
        "submit_attempts_after_the_first": sum(a > 1 for a in attempts),
        **share(rig),
    }
    print(figures)
    record_figures("rig: 200 ± 50 ms and 5% loss each way between the workers and Kombo", **figures)


# ---------------------------------------------------------------- helpers


def catalog(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"id": f"{tag}-{i}", "title": f"T{i}", "url": f"https://a.example/{tag}/{i}"} for i in range(n)]


def state(rig: Rig) -> redis.Redis:
    """A client of the rig's Redis, through its Sentinels, from the test process."""
    assert rig.stack.redis_url
    return client_for_url(rig.stack.redis_url, decode_responses=True)


def sandbox(rig: Rig, path: str) -> Any:
    import httpx

    resp = httpx.get(rig.stack.sandbox_url + path, timeout=30)
    resp.raise_for_status()
    return resp.json()


def accounted(rig: Rig, r: redis.Redis, doc: dict[str, Any], tag: str) -> dict[str, Any]:
    """Assert the run's counts add up and every item counted succeeded is held by Kombo; the
    figures of the run and of the provider."""
    c, run_id = doc["counts"], doc["run_id"]
    assert c["pending"] == 0 and c["total"] == N_ITEMS, c
    assert c["total"] == c["invalid"] + c["unchanged"] + c["excluded"] + c["succeeded"] + c["failed"], c
    failed = {e["item_id"] for e in retrying(lambda: item_errors(r, run_id))}
    assert len(failed) == c["failed"], (len(failed), c)
    succeeded = {f"{tag}-{i}" for i in range(N_ITEMS)} - failed
    held = set(sandbox(rig, "/_sandbox/held?provider=kombo")["kombo"])
    stats = sandbox(rig, "/_sandbox/stats")["kombo"]
    figures = {
        "items": N_ITEMS,
        "state": doc["state"],
        "succeeded": c["succeeded"],
        "failed": c["failed"],
        "succeeded_not_held": len(succeeded - held),
        "batches": doc["batches"]["total"],
        "remote_jobs": stats["tasks_created"],
        "replays": stats["idempotent_replays"],
        "items_received": stats["items_received"],
        "distinct_ids": stats["distinct_ids"],
    }
    assert len(succeeded) == c["succeeded"] and succeeded <= held, figures
    return figures


def share(rig: Rig) -> dict[str, int]:
    """Batches each worker host submitted."""
    return {f"{w}_batches": rig.stack.log_text(w).count("workers.submit: batch submitted") for w in WORKERS}


def tasks_done(rig: Rig, worker: str) -> int:
    """Tasks (of any kind: beat sends some every 0.5 s) ``worker`` has finished so far."""
    return rig.stack.log_text(worker).count(" succeeded in ")


def submissions(rig: Rig) -> tuple[list[int], list[int]]:
    """Duration (ms) and attempt number of every batch submission the worker hosts logged."""
    found = [
        (int(m.group(2)), int(m.group(1)))
        for w in WORKERS
        for m in re.finditer(
            r"batch submitted .*? attempt=(\d+) .*? duration_ms=(\d+)", rig.stack.log_text(w)
        )
    ]
    return [t for t, _ in found], [a for _, a in found]
