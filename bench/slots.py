"""Slot-bound throughput: a 360Learning-like provider running 3 bulk operations at once per
company, each taking 3 s. No client can finish more than 3 operations per 3 s, so the slot-bound
maximum, 1 batch/s, is the goal's baseline (>= 90 % of it). Beside it, in the same run, the same
system polling on its fixed schedule (every 2 s in a job's first minute, as before durations
were learned: COURSESYNC_POLL_LEARN_DURATIONS=0). Each measures a sync after a first one of 6
batches (what a connection has behind it after its first day).

    python -m bench slots [--batches 60] [--operation-s 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import redis

from bench.common import BENCH_ENV, machine, pipeline, requests_since, wait_final

SLOTS = 3
#: Batches of a first sync before the measured one, for both: the connection's history.
WARM_UP = 6
CONFIG = """
[connections.bench-360]
provider = "360learning"
base_url = "{sandbox}/360learning"
client_id = "sandbox-360-client"
client_secret = "sandbox-360-secret"
integration_id = "64a1b2c3d4e5f6a7b8c9d0e1"
batch_size = 10
default_source = "bench"
default_subjects = ["bench"]
"""


def run(batches: int, operation_s: float, *, learn: bool) -> dict[str, Any]:
    BENCH_ENV["COURSESYNC_POLL_LEARN_DURATIONS"] = "1" if learn else "0"
    sandbox = ["--l360-pending-s", str(operation_s), "--l360-bulk-concurrency", str(SLOTS)]
    with pipeline(CONFIG, sandbox, workers=1, concurrency=4) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from producers.sync import SyncOptions, start_run

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        # A first sync of the connection (its durations are learned once and kept for a week).
        warm = [{"id": f"w{i}", "title": "T", "url": "https://a.example/w"} for i in range(WARM_UP * 10)]
        wait_final(r, start_run("bench-360", warm, SyncOptions(full=True), r=r))
        items = [{"id": f"s{i}", "title": "T", "url": "https://a.example/s"} for i in range(batches * 10)]
        epoch0 = time.time()
        doc = wait_final(r, start_run("bench-360", items, SyncOptions(full=True), r=r))
        log = requests_since(stack.sandbox_url, epoch0)
    puts = [float(e[0]) for e in log if e[2] == "PUT"]
    if not puts:
        raise SystemExit(f"no bulk operation reached the sandbox; the run: {doc}")
    # From the first operation's start to the answer that showed the last one's end.
    span = max(float(e[0]) for e in log) - puts[0]
    return {
        "succeeded": doc["counts"]["succeeded"],
        "operations": len(puts),
        "span_s": span,
        "per_s": batches / span,
        "429": sum(1 for e in log if e[4] == 429),
        "polls": sum(1 for e in log if e[2] == "GET" and "bulk" in str(e[3])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--operation-s", type=float, default=3.0)
    args = parser.parse_args(argv)
    maximum = SLOTS / args.operation_s
    fixed = run(args.batches, args.operation_s, learn=False)
    learned = run(args.batches, args.operation_s, learn=True)
    print(f"machine: {machine()}")
    print(f"{args.batches} batches; {SLOTS} bulk operations at once per company, each {args.operation_s:g} s; "
          f"slot-bound maximum {maximum:.2f} batches/s")  # fmt: skip
    print(f"{'':36} {'batches/s':>10} {'of max':>7} {'span':>7} {'status polls':>13} {'429s':>5}")
    for name, got in (
        ("fixed schedule (poll every 2 s)", fixed),
        ("coursesync (learned durations)", learned),
    ):
        print(f"{name:36} {got['per_s']:>10.2f} {got['per_s'] / maximum:>7.0%} {got['span_s']:>6.1f}s "
              f"{got['polls']:>13} {got['429']:>5}   ({got['succeeded']} items, {got['operations']} operations)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
