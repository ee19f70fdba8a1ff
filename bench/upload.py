"""A large catalog uploaded to `coursesync api`: the API's peak memory and its throughput.

Streams a generated JSON Lines catalog of --gb gigabytes (chunked, as a streaming client sends
it, never held whole) to ``POST /v1/connections/NAME/runs`` of a real `coursesync api` (gunicorn,
one worker), and reads the peak RSS of every API process from ``/proc/PID/status`` (VmHWM).
Beside it, measured in the same run: the same bytes written to the same disk by a plain loop
(the floor for throughput), and the API's RSS at rest (the floor for memory).

No Celery worker runs: the answer comes once the catalog is durable, before any worker reads it.

    python -m bench upload [--gb 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from bench.common import bench_redis_url, machine
from coursesync.stack import Stack

CHUNK = 1 << 20


def _chunks(total_bytes: int) -> Iterator[bytes]:
    """JSON Lines items, about 1 MiB per chunk, until ``total_bytes`` are produced."""
    sent, n = 0, 0
    while sent < total_bytes:
        lines = []
        size = 0
        while size < CHUNK:
            line = json.dumps({"id": f"u{n}", "title": f"Course {n}", "url": f"https://x.example/c/{n}",
                               "description": "An uploaded course. " * 20}) + "\n"  # fmt: skip
            lines.append(line)
            size += len(line)
            n += 1
        piece = "".join(lines).encode()
        sent += len(piece)
        yield piece


def _peak_rss_mb(pids: list[int]) -> dict[int, float]:
    peaks = {}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=1.0, help="size of the upload in GB (default 1)")
    args = parser.parse_args(argv)
    total = int(args.gb * 1e9)
    url = bench_redis_url()
    with Stack(redis_url=url) as stack:
        config = stack.workdir / "coursesync.toml"
        config.write_text('[connections.bench]\nprovider = "kombo"\nbase_url = "https://api.kombo.dev/v1"\n'
                          'api_key = "env:X"\nintegration_id = "b:1"\n')  # fmt: skip
        uploads = stack.workdir / "uploads"
        stack.env.update({"COURSESYNC_CONFIG": str(config), "COURSESYNC_CATALOG_DIR": str(uploads),
                          "COURSESYNC_LOG_LEVEL": "WARNING"})  # fmt: skip
        stack.start_redis()
        base = stack.start_api(workers=1)
        os.environ.update({"COURSESYNC_REDIS_URL": stack.redis_url or ""})
        from api.tokens import create_token
        from workers.redis_client import get_redis

        token, _ = create_token(get_redis(), name="bench", scopes=["write"], connections=["*"])
        api_pids = [p.pid for p in psutil.Process(stack.processes["api"].pid).children(recursive=True)]
        api_pids.append(stack.processes["api"].pid)
        at_rest = _peak_rss_mb(api_pids)

        floor_path = stack.workdir / "floor.jsonl"
        t0 = time.perf_counter()
        with floor_path.open("wb") as out:
            for piece in _chunks(total):
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        floor_s = time.perf_counter() - t0
        floor_path.unlink()

        t0 = time.perf_counter()
        resp = httpx.post(f"{base}/v1/connections/bench/runs", content=_chunks(total), timeout=3600,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})  # fmt: skip
        upload_s = time.perf_counter() - t0
        resp.raise_for_status()
        stored = sum(p.stat().st_size for p in uploads.iterdir())
        peaks = _peak_rss_mb(api_pids)

    gb = stored / 1e9
    print(f"machine: {machine()}")
    print(f"upload: {gb:.2f} GB stored, answered 202 with run {resp.json()['run_id']}")
    print(f"  throughput: {gb / upload_s * 1000:.0f} MB/s through the API vs {gb / floor_s * 1000:.0f} MB/s "
          f"written by a plain loop (ratio {floor_s / upload_s:.2f})")  # fmt: skip
    for pid in api_pids:
        print(f"  api process {pid}: peak RSS {peaks[pid]:.0f} MB (at rest {at_rest[pid]:.0f} MB, "
              f"ratio {peaks[pid] / at_rest[pid]:.2f})")  # fmt: skip
    worst = max(peaks.values())
    print(f"  worst peak RSS {worst:.0f} MB ({'under' if worst < 150 else 'OVER'} the 150 MB goal)")
    return 0
