"""Achieved request rate against a provider limit of R requests/s, 4 workers x 4 processes.

coursesync (fleet-wide GCRA + learning from 429s) against the baseline, Celery's ``rate_limit``
(bench/baseline_app.py), measured on the same sandbox in the same run. Figures: achieved
rate as a fraction of R over a steady 60 s window, and 429s per minute.

    python -m bench rate_limit [--rate 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import time

import redis

from bench.common import kombo_connection, machine, pipeline, requests_since

WORKERS, CONCURRENCY, WARMUP_S = 4, 4, 5.0


def window_figures(log: list[list[object]], start: float, seconds: float, rate: float) -> tuple[float, float]:
    inside = [e for e in log if start <= float(e[0]) < start + seconds]  # type: ignore[arg-type]
    ok = sum(1 for e in inside if e[4] != 429)
    limited = sum(1 for e in inside if e[4] == 429)
    return ok / seconds / rate, limited / (seconds / 60)


def run_coursesync(rate: float, seconds: float) -> tuple[float, float]:
    config = kombo_connection(
        "bench", "{sandbox}", batch_size=5, requests_per_minute=rate * 60, max_in_flight=30
    )
    sandbox = ["--kombo-rate-per-s", str(rate), "--kombo-pending-s", "0.5"]
    with pipeline(config, sandbox, workers=WORKERS, concurrency=CONCURRENCY) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from producers.sync import SyncOptions, start_run

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        items = (
            {"id": f"rl-{i}", "title": f"T{i}", "url": "https://a.example/x"}
            for i in range(int(rate * seconds * 5))
        )
        t0 = time.time()
        start_run("bench", items, SyncOptions(full=True), r=r)
        time.sleep(WARMUP_S + seconds + 1)
        return window_figures(requests_since(stack.sandbox_url, t0), t0 + WARMUP_S, seconds, rate)


def run_baseline(rate: float, seconds: float, task: str = "bench.baseline_post") -> tuple[float, float]:
    sandbox = ["--kombo-rate-per-s", str(rate), "--kombo-pending-s", "0.5"]
    with pipeline(None, sandbox, workers=0, concurrency=0) as stack:
        stack.env.update({"BENCH_SANDBOX_URL": stack.sandbox_url, "BENCH_RATE": str(rate)})
        for n in range(WORKERS):
            stack.spawn(f"baseline{n}", [sys.executable, "-m", "celery", "-A", "bench.baseline_app", "worker",
                                         "--concurrency", str(CONCURRENCY), "--loglevel", "WARNING",
                                         "--hostname", f"baseline{n}@%h"])  # fmt: skip
        time.sleep(3.0)
        from bench.baseline_app import app

        t0 = time.time()
        for n in range(int(rate * seconds * 3)):
            app.send_task(task, args=(n,))
        time.sleep(WARMUP_S + seconds + 1)
        return window_figures(requests_since(stack.sandbox_url, t0), t0 + WARMUP_S, seconds, rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0, help="the provider's limit R, requests/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window after a warm-up")
    args = parser.parse_args(argv)
    base_frac, base_429 = run_baseline(args.rate, args.seconds)
    free_frac, free_429 = run_baseline(args.rate, args.seconds, "bench.unlimited_post")
    ours_frac, ours_429 = run_coursesync(args.rate, args.seconds)
    print(f"machine: {machine()}")
    print(
        f"provider limit R = {args.rate:g} requests/s; {WORKERS} workers x {CONCURRENCY} processes; {args.seconds:g} s window"
    )
    print(f"{'':28} {'achieved / R':>13} {'429s per min':>13}")
    print(f"{'celery rate_limit (baseline)':28} {base_frac:>12.1%} {base_429:>13.1f}")
    print(f"{'celery, no limit, retry 429':28} {free_frac:>12.1%} {free_429:>13.1f}")
    print(f"{'coursesync':28} {ours_frac:>12.1%} {ours_429:>13.1f}")
    print(
        f"goal: >= 97% of R and <= 1 429/min -> {'met' if ours_frac >= 0.97 and ours_429 <= 1 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
