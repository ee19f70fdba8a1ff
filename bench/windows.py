"""Several windows at once: 20/s, 600/min and 5,000/h on one key, never exceeded, each used while
it binds.

1. The fleet: one StackOne connection with a backlog, 2 workers x 4, against a sandbox that
   enforces 20/s and 600/min as sliding windows (the strictest reading) for --seconds. Printed:
   the most requests the sandbox let through in any 1 s and any 60 s, its 429s, and each full
   minute's use of 600. (An hour is too long for a benchmark: see 2.)
2. The limiter over two hours of simulated time (``MemoryBackend`` and a clock that jumps to
   each answer's wait, the same decisions ``gcra.lua`` makes), a client asking as fast as it is
   allowed: the most in any 1 s, 60 s and 3,600 s, and the use of each window while it binds.

    python -m bench windows [--seconds 150]
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time

import httpx
import redis

from bench.common import machine, pipeline

KEY = "sandbox-stackone-key"
CONFIG = """
[connections.bench-windows]
provider = "stackone"
base_url = "{sandbox}/stackone"
api_key = "sandbox-stackone-key"
account_id = "sandbox-account"
batch_size = 10
limits = ["20/s", "600/min"]
"""


def most_in_any(times: list[float], seconds: float) -> int:
    return max((bisect.bisect_left(times, t + seconds) - i for i, t in enumerate(times)), default=0)


def fleet(seconds: float) -> None:
    sandbox = ["--limiter", "sliding_window", "--stackone-windows", "20/1", "600/60"]
    with pipeline(CONFIG, sandbox, workers=2, concurrency=4) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from producers.sync import SyncOptions, start_run

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        items = [
            {"id": f"w{i}", "title": "T", "url": "https://a.example/w"} for i in range(int(seconds * 20 * 10))
        ]
        start_run("bench-windows", items, SyncOptions(full=True), r=r)
        time.sleep(seconds)
        key = httpx.get(stack.sandbox_url + "/_sandbox/limits", timeout=60).json()["providers"]["stackone"][
            KEY
        ]
    times = sorted(t for s in key["sub_accounts"].values() for t in s["accepted_at_s"])
    minutes = [
        sum(1 for t in times if start <= t < start + 60)
        for start in (times[0] + 60 * k for k in range(int(seconds // 60)))
    ]
    print(f"fleet, {seconds:g} s against 20/s and 600/min as sliding windows: {len(times)} requests, "
          f"{key['rate_limited']} answered 429")  # fmt: skip
    print(
        f"  most in any 1 s: {most_in_any(times, 1)} (limit 20); in any 60 s: {most_in_any(times, 60)} (limit 600)"
    )
    print("  each full minute: " + ", ".join(f"{m} ({m / 600:.1%} of 600)" for m in minutes))


def simulated() -> None:
    from workers.connections import Connection
    from workers.providers.installed import get_plugin
    from workers.ratelimit import Limits, MemoryBackend

    clock_ms = [1_000_000.0]
    limits = Limits(MemoryBackend(lambda: clock_ms[0]))
    opts = {"api_key": "k", "account_id": "a", "limits": ["20/s", "600/min", "5000/h"]}
    conn = Connection("sim", "stackone", "https://api.stackone.com", opts, None, get_plugin("stackone").spec)
    start, sent = clock_ms[0], []
    while clock_ms[0] < start + 2 * 3600_000:
        wait_s = limits.spend(conn, "requests").wait_s
        if wait_s == 0:
            sent.append(clock_ms[0] / 1000)
        else:
            clock_ms[0] += wait_s * 1000
    t0 = start / 1000
    first_s = sum(1 for t in sent if t < t0 + 1)
    hours = [sum(1 for t in sent if t0 + 3600 * h <= t < t0 + 3600 * (h + 1)) for h in range(2)]
    print("simulated, 2 h of a client asking as fast as 20/s + 600/min + 5000/h allow:")
    print(f"  most in any 1 s: {most_in_any(sent, 1)} (20); any 60 s: {most_in_any(sent, 60)} (600); "
          f"any 3,600 s: {most_in_any(sent, 3600)} (5,000)")  # fmt: skip
    print(
        f"  while each binds: the first second {first_s} of 20 ({first_s / 20:.0%}); each hour "
        + ", ".join(f"{h:,} of 5,000 ({h / 5000:.1%})" for h in hours)
        + " (the minute never binds: 5,000/h is tighter than 600/min)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=150.0)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    simulated()
    fleet(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
