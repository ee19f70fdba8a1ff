"""Fairness: time for a 2-batch run on connection B while connection A has a 200-batch backlog.

coursesync hands each connection's batches to Celery a few at a time (at most max_in_flight),
so B's batches interleave with A's. The baseline is the same system with A's cap lifted, which
puts A's whole backlog on the broker ahead of B, as a plain Celery queue would.

    python -m bench fairness
"""

from __future__ import annotations

import argparse
import sys
import time

import redis

from bench.common import kombo_connection, machine, pipeline, wait_final

WORKERS, CONCURRENCY = 1, 4


def run(a_cap: int) -> tuple[float, float]:
    # The baseline keeps A and B on budgets of their own (as if on different keys), so that
    # nothing but A's lifted cap decides what reaches the broker first.
    apart = a_cap > 30
    config = kombo_connection(
        "conn-a", "{sandbox}", batch_size=10, requests_per_minute=60_000, max_in_flight=a_cap,
        **({"budget_key": "a"} if apart else {}),
    )  # fmt: skip
    config += kombo_connection(
        "conn-b",
        "{sandbox}",
        batch_size=10,
        requests_per_minute=60_000,
        **({"budget_key": "b"} if apart else {}),
    )
    sandbox = ["--kombo-pending-s", "0.5", "--latency-s", "0.2", "--kombo-concurrency-limit", "1000"]
    with pipeline(config, sandbox, workers=WORKERS, concurrency=CONCURRENCY) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from producers.sync import SyncOptions, start_run

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        t0 = time.monotonic()
        run_a = start_run("conn-a", [{"id": f"a{i}", "title": "A", "url": "https://a.example"} for i in range(2000)],
                          SyncOptions(full=True), r=r)  # fmt: skip
        time.sleep(1.0)
        t_b = time.monotonic()
        run_b = start_run("conn-b", [{"id": f"b{i}", "title": "B", "url": "https://b.example"} for i in range(20)],
                          SyncOptions(full=True), r=r)  # fmt: skip
        wait_final(r, run_b)
        b_time = time.monotonic() - t_b
        wait_final(r, run_a)
        return b_time, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)
    base_b, base_a = run(a_cap=100_000)
    ours_b, ours_a = run(a_cap=30)
    print(f"machine: {machine()}")
    print(f"A: 200 batches, B: 2 batches started 1 s later; {WORKERS} worker x {CONCURRENCY} processes;"
          " each request 0.2 s, each remote task 0.5 s")  # fmt: skip
    print(f"{'':34} {'B done after':>13} {'A done after':>13}")
    print(f"{'baseline: A all on the broker':34} {base_b:>12.1f}s {base_a:>12.1f}s")
    print(f"{'coursesync: A capped at 30':34} {ours_b:>12.1f}s {ours_a:>12.1f}s")
    print(f"B finishes {base_b / ours_b:.1f}x sooner; A's own time changes by {ours_a / base_a - 1:+.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
