"""Resync of an unchanged 100,000-item catalog: wall time, provider requests, digest memory.

The baseline, measured in the same run, is the first (full) sync of the same catalog through
the same pipeline: a worker, beat and the sandbox's Kombo.

    python -m bench resync [--items 100000]
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx
import redis

from bench.common import kombo_connection, machine, pipeline, wait_final


def sandbox_requests(url: str) -> int:
    return int(httpx.get(url + "/_sandbox/stats", timeout=30).json().get("requests", 0))


def digest_bytes(r: redis.Redis, target: str) -> int:
    from workers import keys

    total = 0
    for start in range(0, keys.HASH_BUCKETS, 512):
        pipe = r.pipeline(transaction=False)
        for b in range(start, min(start + 512, keys.HASH_BUCKETS)):
            pipe.memory_usage(keys.content_hashes(target, b), samples=0)
        total += sum(int(x or 0) for x in pipe.execute())
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args(argv)
    config = kombo_connection("bench", "{sandbox}", batch_size=1000, requests_per_minute=60_000)
    with pipeline(
        config, ["--kombo-pending-s", "0.5", "--kombo-max-items", "1000"], workers=1, concurrency=4
    ) as stack:
        import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
        from coursesync.sample import iter_valid
        from producers.sync import SyncOptions, start_run

        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        catalog = list(iter_valid(args.items, prefix="rs"))
        results = []
        for label in ("first sync (baseline)", "unchanged resync"):
            before = sandbox_requests(stack.sandbox_url)
            t0 = time.perf_counter()
            doc = wait_final(r, start_run("bench", catalog, SyncOptions(), r=r))
            wall = time.perf_counter() - t0
            results.append((label, wall, sandbox_requests(stack.sandbox_url) - before, doc["counts"]))
        memory = digest_bytes(r, doc["target"])
    print(f"machine: {machine()}")
    print(f"catalog: {args.items:,} items; Kombo on the sandbox, 1 worker x 4 processes")
    print(f"{'':24} {'wall':>8} {'provider requests':>18} {'sent':>9} {'unchanged':>10}")
    for label, wall, requests, counts in results:
        print(
            f"{label:24} {wall:>7.1f}s {requests:>18,} {counts['succeeded']:>9,} {counts['unchanged']:>10,}"
        )
    print(f"resync / first sync wall time: {results[1][1] / results[0][1]:.2f}")
    print(
        f"Redis memory of the content digests: {memory / 1e6:.1f} MB ({memory / args.items:.0f} bytes/item; goal <= 16 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
