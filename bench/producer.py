"""Producer throughput, memory and CPU per item on a large catalog (issue 8).

Writes a catalog of N varied valid items (JSON Lines), then in a fresh process reads,
validates, maps, diffs and enqueues it into Redis as `coursesync sync` would (no workers: the
batches wait in Redis). Beside it, the floor measured in the same run: reading the same file
and parsing each line with json.loads, nothing else. And the necessary steps alone, in one
plain loop over the lines: decoding and validating each line, mapping it to Kombo's payload,
its canonical JSON and digest, and compressing each 1,000 as a batch blob. No producer that
does that work can beat their speed, whatever its plumbing.

    python -m bench producer [--items 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import bench_redis_url, machine

_CHILD = r"""
import json, os, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
if mode == "floor":
    with open(path, "rb") as fh:
        n = sum(1 for line in fh if json.loads(line))
elif mode == "steps":
    # Only what every item needs, in one loop: no reader, no Record, no window, no Redis.
    import zlib
    from schemas.course_fast import decode_course
    from workers.providers.installed import get_mapper
    from workers.providers.mapping import canonical_json, content_digest
    mapper, n, batch = get_mapper("kombo"), 0, []
    with open(path, "rb") as fh:
        for line in fh:
            op, payload = mapper.prepare(decode_course(line), {})
            canonical = canonical_json(payload)
            content_digest(mapper, op, payload, canonical)
            batch.append(canonical)
            n += 1
            if len(batch) == 1000:
                zlib.compress(b"[" + b",".join(batch) + b"]", 1)
                batch = []
else:
    from producers.sync import SyncOptions, start_run
    import workers.celery_app  # noqa: F401 (an entry point: installs how tasks reach the workers)
    from workers.ledger import run_document
    from workers.redis_client import get_redis
    run_id = start_run("bench", path, SyncOptions(full=True))
    n = run_document(get_redis(), run_id)["counts"]["total"]
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"items": n, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_catalog(path: Path, n: int) -> None:
    from coursesync.sample import iter_valid

    with path.open("w") as fh:
        for item in iter_valid(n, prefix="p"):
            fh.write(json.dumps(item) + "\n")


def measure(mode: str, path: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path)], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    url = bench_redis_url()
    import redis

    redis.Redis.from_url(url).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "c.toml"
        config.write_text('[connections.bench]\nprovider = "kombo"\nbase_url = "http://127.0.0.1:9/kombo/v1"\n'
                          'api_key = "env:BENCH_KEY"\nintegration_id = "x"\nmax_in_flight = 1\n')  # fmt: skip
        env = {
            **os.environ,
            "COURSESYNC_REDIS_URL": url,
            "COURSESYNC_CONFIG": str(config),
            "COURSESYNC_LOG_LEVEL": "WARNING",
        }
        path = Path(tmp) / "catalog.jsonl"
        t0 = time.perf_counter()
        write_catalog(path, args.items)
        size_mb = path.stat().st_size / 1e6
        print(f"machine: {machine()}")
        print(
            f"catalog: {args.items:,} items, {size_mb:,.0f} MB JSON Lines (written in {time.perf_counter() - t0:.0f} s)"
        )
        floor = measure("floor", path, env)
        steps = measure("steps", path, env)
        ours = measure("producer", path, env)
    rate, floor_rate = ours["items"] / ours["wall_s"], floor["items"] / floor["wall_s"]
    print(f"{'':34} {'items/s':>10} {'CPU us/item':>12} {'peak RSS':>10}")
    print(
        f"{'floor: read + json.loads':34} {floor_rate:>10,.0f} {floor['cpu_s'] / floor['items'] * 1e6:>12.1f} {floor['peak_rss_mb']:>8.0f}MB"
    )
    print(
        f"{'necessary steps alone':34} {steps['items'] / steps['wall_s']:>10,.0f} {steps['cpu_s'] / steps['items'] * 1e6:>12.1f} {steps['peak_rss_mb']:>8.0f}MB"
    )
    print(
        f"{'coursesync producer':34} {rate:>10,.0f} {ours['cpu_s'] / ours['items'] * 1e6:>12.1f} {ours['peak_rss_mb']:>8.0f}MB"
    )
    print(f"producer / floor: {rate / floor_rate:.2f} of the floor's speed (the producer runs on one core)")
    print(
        f"necessary steps / floor: {floor['cpu_s'] / floor['items'] / (steps['cpu_s'] / steps['items']):.2f} of the floor's "
        "speed: the most any producer doing them reaches (per CPU second)"
    )
    print("goals: >= 50,000 items/s per core, <= 150 MB peak RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
