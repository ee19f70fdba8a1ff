"""One provider key shared by 50 customers: use of its limit, 429s, fairness, small runs' wait.

50 StackOne connections use one API key, which the sandbox limits to R requests per minute as a
sliding window (the strictest reading). One connection syncs 200,000 items, ten sync 5,000 and
the rest 100, all started together. Measured for the first --seconds of it, beside two baselines
in the same run: each connection given R/50 of its own (a static split by hand), and each given
all of R as if it were alone (no sharing).

    python -m bench shared_key [--seconds 120] [--rate-per-min 1000]
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis

from bench.common import machine, pipeline

KEY = "sandbox-stackone-key"
N = 50
SIZES = [200_000] + [5_000] * 10 + [100] * (N - 11)
WINDOW_S = 10.0


def account(i: int) -> str:
    return f"acct-{i:02d}"


def config(variant: str, rate_per_min: int) -> str:
    out = ""
    for i in range(N):
        extra = ""
        if variant == "static split":
            extra = f'budget_key = "split-{i}"\nlimits = ["{rate_per_min / N:g}/min"]\n'
        elif variant == "no sharing":
            extra = f'budget_key = "alone-{i}"\nlimits = ["{rate_per_min}/min"]\n'
        else:
            extra = f'limits = ["{rate_per_min}/min"]\n'
        out += f"""
[connections.c{i:02d}]
provider = "stackone"
base_url = "{{sandbox}}/stackone"
api_key = "{KEY}"
account_id = "{account(i)}"
batch_size = 100
{extra}"""
    return out


def items(n: int, prefix: str) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{j}", "title": "T", "url": f"https://a.example/{prefix}/{j}"} for j in range(n)]


def jain(values: list[int]) -> float:
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values)) if any(values) else 1.0


def run(variant: str, seconds: float, rate_per_min: int) -> dict[str, Any]:
    sandbox = ["--limiter", "sliding_window", "--stackone-windows", f"{rate_per_min}/60",
               "--stackone-accounts", *(account(i) for i in range(N))]  # fmt: skip
    with pipeline(config(variant, rate_per_min), sandbox, workers=2, concurrency=4) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from producers.sync import SyncOptions, start_run
        from workers.ledger import run_document

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        catalogs = {f"c{i:02d}": items(size, f"c{i}") for i, size in enumerate(SIZES)}
        # A 100-item run alone on the idle key first: its own minimum, the yardstick of the goal.
        t = time.time()
        alone = start_run("c49", items(100, "alone"), SyncOptions(full=True), r=r)
        while (run_document(r, alone) or {}).get("state") not in ("completed", "failed"):
            time.sleep(0.05)
        minimum_s = time.time() - t
        time.sleep(2)
        started: dict[str, float] = {}

        def start(name: str) -> str:
            started[name] = time.time()
            return start_run(name, catalogs[name], SyncOptions(full=True), r=r)

        t0 = time.time()
        with ThreadPoolExecutor(max_workers=N) as pool:
            runs = dict(zip(catalogs, pool.map(start, catalogs), strict=True))
        time.sleep(max(0.0, seconds - (time.time() - t0)))
        t_end = time.time()
        docs = {name: run_document(r, run_id) or {} for name, run_id in runs.items()}
        limits = httpx.get(stack.sandbox_url + "/_sandbox/limits", params={"since": t0}, timeout=60).json()
    key = limits["providers"]["stackone"][KEY]
    small_times = []
    for i, size in enumerate(SIZES):
        name = f"c{i:02d}"
        if size == 100 and docs[name].get("finished_at"):
            finished = _epoch(docs[name]["finished_at"])
            small_times.append(finished - started[name])
    small_done = len(small_times)
    return {
        "key": key,
        "t0": t0,
        "t_end": t_end,
        "minimum_s": minimum_s,
        "small_done": small_done,
        "small_worst": max(small_times) if small_times else float("inf"),
        "small_median": statistics.median(small_times) if small_times else float("inf"),
        "rate_per_s": rate_per_min / 60,
    }


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def figures(got: dict[str, Any]) -> dict[str, float]:
    key, rate = got["key"], got["rate_per_s"]
    subs = {name: sorted(s["accepted_at_s"]) for name, s in key["sub_accounts"].items()}
    every = sorted(t for times in subs.values() for t in times)
    start, end = every[0], got["t_end"]
    spans: list[tuple[float, float]] = []
    t = start + WINDOW_S  # the first window holds the runs' start-up
    while t + WINDOW_S <= end:
        spans.append((t, t + WINDOW_S))
        t += WINDOW_S
    uses, fairness = [], []
    for a, b in spans:
        uses.append((bisect.bisect_left(every, b) - bisect.bisect_left(every, a)) / (rate * WINDOW_S))
        # Backlogged for the whole window: sent before it and after it.
        counts = [bisect.bisect_left(ts, b) - bisect.bisect_left(ts, a) for ts in subs.values()
                  if ts and ts[0] < a and ts[-1] > b]  # fmt: skip
        if len(counts) > 1:
            fairness.append(jain(counts))
    minutes = (end - start) / 60
    return {
        "use_mean": statistics.mean(uses),
        "use_min": min(uses),
        "per_min_429": key["rate_limited"] / minutes,
        "jain_mean": statistics.mean(fairness) if fairness else float("nan"),
        "jain_min": min(fairness) if fairness else float("nan"),
        "windows": len(uses),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate-per-min", type=int, default=1000)
    args = parser.parse_args(argv)
    results = {
        v: run(v, args.seconds, args.rate_per_min) for v in ("coursesync", "static split", "no sharing")
    }
    print(f"machine: {machine()}")
    print(f"{N} connections on one key limited to R = {args.rate_per_min}/min (sliding window); runs of "
          f"200,000, 10 x 5,000 and {N - 11} x 100 items started together; measured over {args.seconds:g} s")  # fmt: skip
    # A 100-item run is one request. Alone on an idle key it takes `minimum_s`; started together
    # with 49 others, its fair share of R is R/50, so its request needs 50/R at the least: the
    # first round of a fair queue over 50 connections lasts that long, whoever goes first.
    fair_min_s = N / (args.rate_per_min / 60)
    print(f"{'':14} {'use of R':>17} {'429s/min':>9} {'Jain (10 s)':>17} {'100-item runs done':>19} "
          f"{'worst / alone':>14} {'worst / fair share':>19}")  # fmt: skip
    for name, got in results.items():
        f = figures(got)
        print(f"{name:14} {f['use_mean']:>7.1%} (min {f['use_min']:>5.1%}) {f['per_min_429']:>9.1f} "
              f"{f['jain_mean']:>7.3f} (min {f['jain_min']:.3f}) {got['small_done']:>12}/{N - 11:<6} "
              f"{got['small_worst'] / got['minimum_s']:>7.1f}x ({got['minimum_s']:.1f} s) "
              f"{got['small_worst'] / fair_min_s:>8.2f}x ({fair_min_s:.1f} s)   worst {got['small_worst']:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
