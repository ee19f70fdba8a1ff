"""The status sweep under load: cost per sweep with 10,000 pending remote jobs, and how soon a
finished job is noticed.

Runs the sweep in this process every second, as beat does, against the sandbox's Kombo:
1. 10,000 one-item batches are submitted and stay PENDING; per sweep we measure Redis time
   (INFO commandstats) and provider calls. Baseline in the same run: a naive sweep that reads
   every job record each tick, which is what a poller without a due-time index must do.
2. 200 jobs that finish 5 to 55 s after submission: the delay between a job finishing at the
   provider and its run's state changing (goal: median <= 2 s).

    python -m bench poller
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.common import bench_redis_url, machine
from coursesync.stack import Stack


def redis_usec(r: redis.Redis) -> int:
    return sum(int(v["usec"]) for v in r.info("commandstats").values())  # type: ignore[union-attr]


def submit_many(deps: Any, n: int, prefix: str) -> list[tuple[str, float]]:
    from producers.sync import SyncOptions, start_run
    from workers import keys
    from workers.ledger import get_run
    from workers.submit import submit_batch

    items = [{"id": f"{prefix}-{i}", "title": "T", "url": "https://a.example"} for i in range(n)]
    run_id = start_run(
        "bench", items, SyncOptions(full=True), r=deps.r, settings=deps.settings, send=deps.send
    )
    assert get_run(deps.r, run_id) is not None
    out = []
    for batch_id in deps.r.lrange(keys.run_batches(run_id), 0, -1):
        t = time.time()
        submit_batch(batch_id, deps)
        out.append((batch_id, t))
    return out


def main(argv: list[str] | None = None) -> int:
    url = bench_redis_url()
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    with Stack(redis_url=url) as stack, tempfile.TemporaryDirectory() as tmp:
        stack.start_redis()
        sandbox = stack.start_sandbox(["--kombo-pending-s", "3600"])
        config = Path(tmp) / "c.toml"
        config.write_text(f'[connections.bench]\nprovider = "kombo"\nbase_url = "{sandbox}/kombo/v1"\n'
                          'api_key = "env:BENCH_KEY"\nintegration_id = "sandbox:coursesync-demo"\n'
                          'batch_size = 1\nrequests_per_minute = 600000\nmax_in_flight = 100000\n')  # fmt: skip
        os.environ.update(COURSESYNC_REDIS_URL=url, COURSESYNC_CONFIG=str(config), BENCH_KEY="sandbox-kombo-key",
                          COURSESYNC_LOG_LEVEL="WARNING")  # fmt: skip
        from workers.config import get_settings

        get_settings.cache_clear()
        from workers import poller
        from workers.tasks.base import real_deps

        deps = replace(real_deps(), send=lambda *a: None)  # this process plays the worker
        # 1. cost of a sweep with 10,000 pending jobs, none due, then 500 due at once

        from workers import keys

        deps = replace(deps, settings=replace(deps.settings, poll_initial_delay_s=300.0))
        submit_many(deps, 10_000, "load")
        rows = []
        for label in ("none due", "none due", "all due", "all due"):
            if label == "all due":
                r.zadd(keys.JOBS_DUE, dict.fromkeys(r.zrange(keys.JOBS_DUE, 0, -1), 0))
            u0, c0, t0 = (
                redis_usec(r),
                httpx.get(sandbox + "/_sandbox/stats").json()["requests"],
                time.perf_counter(),
            )
            stats = poller.sweep(deps)
            calls = httpx.get(sandbox + "/_sandbox/stats").json()["requests"] - c0
            rows.append((label, time.perf_counter() - t0, redis_usec(r) - u0, calls, stats.claimed))
        deps = real_deps()
        u0 = redis_usec(r)
        pipe = r.pipeline(transaction=False)
        for batch_id in r.zrange(keys.JOBS_DUE, 0, -1):
            pipe.hgetall(keys.batch(batch_id))
        pipe.execute()
        naive_usec = redis_usec(r) - u0
        r.flushdb()
        # 2. detection delay for jobs that finish within their first minute
        finished: dict[str, float] = {}
        real_record = poller.record_results

        def record(r_: Any, raw_r: Any, batch: Any, results: Any, settings: Any) -> Any:
            finished[batch.id] = time.time()
            return real_record(r_, raw_r, batch, results, settings)

        poller.record_results = record  # type: ignore[assignment]
        done_at: dict[str, float] = {}
        for group in range(10):
            pending_s = 5 + group * 5.5
            httpx.post(sandbox + "/_sandbox/config", json={"kombo_pending_s": pending_s})
            for batch_id, t in submit_many(deps, 20, f"late{group}"):
                done_at[batch_id] = t + pending_s
        deadline = time.time() + 120
        while len(finished) < len(done_at) and time.time() < deadline:
            poller.sweep(deps)
            time.sleep(1.0)
        delays = [finished[b] - done_at[b] for b in done_at if b in finished]
    print(f"machine: {machine()}")
    print("1. one sweep with 10,000 remote jobs pending (a sweep polls at most 500; the next tick the rest)")
    print(f"   {'':10} {'wall':>8} {'Redis time':>11} {'provider calls':>15} {'jobs polled':>12}")
    for label, wall, usec, calls, claimed in rows:
        print(f"   {label:10} {wall:>7.3f}s {usec / 1000:>9.2f}ms {calls:>15,} {claimed:>12,}")
    print(f"   baseline: a poller without a due-time index reads every job each tick: {naive_usec / 1000:.1f} ms"
          " of Redis time per tick before it polls anything")  # fmt: skip
    print(f"2. {len(delays)} of {len(done_at)} jobs finishing 5-55 s after submission were noticed after "
          f"median {statistics.median(delays):.2f} s, p90 {sorted(delays)[int(len(delays) * 0.9)]:.2f} s, "
          f"max {max(delays):.2f} s (goal: median <= 2 s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
