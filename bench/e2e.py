"""End to end: 100,000 items to the sandbox's Kombo under its rate limit, against the minimum
time that limit allows.

Every batch needs at least two requests the provider counts (the POST, and one poll after the
task finished), so N items in batches of B need at least 2N/B requests, and at R requests/s
no client can finish sooner than 2N/(B*R) seconds. That minimum is the baseline; the figure
is the measured wall time (catalog read, validated, sent and every result recorded) over it.

    python -m bench e2e [--items 100000] [--rate 10]
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx
import psutil
import redis

from bench.common import kombo_connection, machine, pipeline, requests_since, wait_final

BATCH = 1000


def cpu_s(roots: list[psutil.Process]) -> float:
    """User + system CPU seconds of these processes and all their children, alive ones."""
    total = 0.0
    for root in roots:
        for proc in [root, *root.children(recursive=True)]:
            try:
                t = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=10.0, help="the provider's limit, requests/s")
    args = parser.parse_args(argv)
    config = kombo_connection("bench", "{sandbox}", batch_size=BATCH, requests_per_minute=args.rate * 60)
    sandbox = ["--kombo-pending-s", "1", "--kombo-rate-per-s", str(args.rate)]
    with pipeline(config, sandbox, workers=1, concurrency=4) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from coursesync.sample import iter_valid
        from producers.sync import SyncOptions, start_run

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        catalog = list(iter_valid(args.items, prefix="e2e"))
        # This process is the producer; its children (sandbox, private Redis) are not coursesync.
        roles = {n: [psutil.Process(stack.processes[n].pid)] for n in ("worker0", "beat")}
        sandbox_proc = [psutil.Process(stack.processes["sandbox"].pid)]
        sandbox0 = cpu_s(sandbox_proc)
        me = psutil.Process()
        before = {n: cpu_s(p) for n, p in roles.items()} | {"producer": sum(me.cpu_times()[:2])}
        t0, epoch0 = time.perf_counter(), time.time()
        run_id = start_run("bench", catalog, SyncOptions(full=True), r=r)
        produced = time.perf_counter() - t0
        doc = wait_final(r, run_id)
        wall = time.perf_counter() - t0
        log = requests_since(stack.sandbox_url, epoch0)
        after = {n: cpu_s(p) for n, p in roles.items()} | {"producer": sum(me.cpu_times()[:2])}
        spent = {n: after[n] - before[n] for n in after}
        sandbox_cpu = cpu_s(sandbox_proc) - sandbox0
        cpu = sum(spent.values())
        stats = httpx.get(stack.sandbox_url + "/_sandbox/stats", timeout=30).json()
    batches = -(-args.items // BATCH)
    minimum = 2 * batches / args.rate
    print(f"machine: {machine()}")
    print(
        f"{args.items:,} items in {batches} batches of {BATCH}; provider limit {args.rate:g} requests/s, tasks take 1 s"
    )
    print(f"succeeded {doc['counts']['succeeded']:,}; provider requests {stats['requests']:,} "
          f"({stats['by_status'].get('429', 0)} answered 429)")  # fmt: skip
    print(
        f"wall {wall:.1f} s; minimum the limit allows {minimum:.1f} s; ratio {wall / minimum:.2f} (goal <= 1.10)"
    )
    print(
        f"CPU of every coursesync process (producer, worker and its pool, beat): {cpu:.1f} s, "
        f"{cpu / args.items * 1e6:.0f} us per item (goal <= 100 us)"
    )
    print("  of which " + ", ".join(f"{n} {s / args.items * 1e6:.0f} us" for n, s in spent.items()))
    posts = [float(e[0]) - epoch0 for e in log if e[2] == "POST"]
    polls = [float(e[0]) - epoch0 for e in log if e[2] == "GET"]
    print(
        f"timeline: producer done {produced:.1f} s; POSTs {posts[0]:.1f}-{posts[-1]:.1f} s; "
        f"polls {polls[0]:.1f}-{polls[-1]:.1f} s; run final {wall:.1f} s"
    )
    print(f"the sandbox (the provider's side, sharing this machine's cores): {sandbox_cpu:.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
