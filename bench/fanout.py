"""One catalog to many connections (issue 18): producer CPU of a fan-out against separate syncs.

A catalog of N varied valid items (JSON Lines) and C connections, the four providers in turn,
every connection paused (batches wait in Redis: this measures the producer's side, not the
providers'). Each connection's target is first given the digests of the whole catalog, as if
it had been synced (by a fan-out of the catalog, which also leaves the fan-out memory of that
file). Then, for an unchanged resync of a copy no fan-out has read ("first": no memory), an
unchanged resync of the file itself, and one with 1 % of its items changed in place:

- separate syncs: ``coursesync sync`` of each connection in turn, each in a fresh process
  (``--baseline`` of them; the baseline is their CPU, and the mean is "a single sync"); CPU is
  counted from after the imports, in these and in the fan-out alike;
- the fan-out in one process: reading once, then every connection's part in turn (its total
  CPU on one core, whatever the fleet);
- the fan-out on real Celery workers (1, then 2 worker processes): wall time until every part
  is done.

    python -m bench fanout [--items 100000] [--connections 100] [--baseline 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from bench.common import machine, pipeline

PROVIDERS = ("kombo", "stackone", "360learning", "thoughtindustries")

_CHILD = r"""
import json, sys, time
mode, path, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sent = []
def send(name, kwargs, options):
    sent.append((name, kwargs))
from producers.sync import SyncOptions, start_run
from producers.fanout import send_part, start_fanout
from workers.providers.installed import get_mapper, provider_names
for provider in provider_names():
    get_mapper(provider)  # imported before the clock starts, as in a long-running worker
t0, c0 = time.perf_counter(), time.process_time()
if mode == "sync":
    for name in names:
        start_run(name, path, SyncOptions(), send=send)
else:
    fanout_id = start_fanout(",".join(names), path, send=send)
    for task, kwargs in [s for s in sent if s[0] == "coursesync.fanout_part"]:
        send_part(kwargs["fanout_id"], kwargs["run_id"], send=send)
print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}))
"""


def connections_toml(n: int) -> str:
    blocks = []
    for k in range(n):
        provider = PROVIDERS[k % 4]
        name = f"c{k:03d}-{provider}"
        base = {"kombo": "/kombo/v1", "stackone": "/stackone", "360learning": "/360learning",
                "thoughtindustries": "/thoughtindustries"}[provider]  # fmt: skip
        place = {
            "kombo": f'api_key = "env:BENCH_KOMBO_KEY"\nintegration_id = "bench:{k}"',
            "stackone": f'api_key = "env:BENCH_KOMBO_KEY"\naccount_id = "bench-{k}"',
            "360learning": f'client_id = "env:BENCH_KOMBO_KEY"\nclient_secret = "env:BENCH_KOMBO_KEY"\n'
            f'integration_id = "{k:024x}"\ndefault_source = "Bench"\ndefault_subjects = ["bench"]',
            "thoughtindustries": 'api_key = "env:BENCH_KOMBO_KEY"\ncontent = "courseGroup/webinar"\n'
            f'asset_store = "file:///tmp/bench-assets-{k}"',
        }[provider]
        blocks.append(
            f'[connections.{name}]\nprovider = "{provider}"\nbase_url = "{{sandbox}}{base}"\n{place}\n'
        )
    return "\n".join(blocks)


def write_catalog(path: Path, n: int, *, changed_every: int = 0) -> None:
    from coursesync.sample import iter_valid

    with path.open("w") as fh:
        for i, item in enumerate(iter_valid(n, prefix="fo")):
            if changed_every and i % changed_every == 0:
                item["title"] = item["title"] + " (revised)"
            fh.write(json.dumps(item) + "\n")


def child(mode: str, path: Path, names: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), ",".join(names)],
                         env=os.environ, capture_output=True, text=True, check=True)  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def seed(r: redis.Redis, path: Path, names: list[str]) -> None:
    """Give every connection's target the digests of the whole catalog, as a sync would have
    (written straight into Redis: sending 100 x N items to the sandbox is not what is measured)."""
    from producers.fanout import start_fanout
    from producers.fanout.snapshot import SnapshotReader, fanout_dir, remove
    from workers import keys
    from workers.config import get_settings
    from workers.ledger import fanout_document, get_run
    from workers.providers.registry import get_connection
    from workers.targets import current_target

    fanout_id = start_fanout(",".join(names), str(path), send=lambda *a: None)
    directory = fanout_dir(get_settings().catalog_dir, fanout_id)
    doc = fanout_document(r, fanout_id)
    assert doc is not None
    for run in doc["runs"]:
        raw = get_run(r, run["run_id"])
        assert raw is not None
        reader = SnapshotReader(directory, int(raw["view"]))
        target = current_target(r, get_connection(run["connection"])).id
        pipe = r.pipeline(transaction=False)
        for b in range(keys.HASH_BUCKETS):
            entries = reader.bucket(b)
            if entries:
                pipe.hset(keys.content_hashes(target, b), mapping={e[0]: e[1] for e in entries})
        pipe.set(keys.bucket_fingerprints(target), "".join(reader.view["fingerprints"]) + "v")
        subs = "".join("".join(reader.subs(b)) for b in range(keys.HASH_BUCKETS))
        pipe.set(keys.sub_fingerprints(target), subs + "v")
        pipe.execute()
        reader.close()
    remove(directory)


def fleet_wall(r: redis.Redis, path: Path, names: list[str]) -> float:
    """Wall time of a fan-out read here, its parts on the running workers, until all are done."""
    import workers.celery_app  # noqa: F401 (installs how tasks reach the workers)
    from producers.fanout import start_fanout
    from workers.ledger.fanouts import parts_done

    t0 = time.perf_counter()
    fanout_id = start_fanout(",".join(names), str(path))
    while parts_done(r, fanout_id) < len(names):
        time.sleep(0.05)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=100, help="separate syncs measured (a multiple of 4)")
    args = parser.parse_args(argv)
    with pipeline(connections_toml(args.connections), [], workers=0, concurrency=1, beat=False) as stack:
        os.environ["COURSESYNC_CATALOG_DIR"] = stack.env["COURSESYNC_CATALOG_DIR"] = str(
            stack.workdir / "catalogs"
        )
        from workers.config import get_settings

        get_settings.cache_clear()
        r = redis.Redis.from_url(stack.redis_url or "", decode_responses=True)
        from workers.control import pause_connection
        from workers.providers.registry import get_connections

        names = sorted(get_connections())
        for name in names:
            pause_connection(r, name)
        # The catalog a nightly resync reads again at the same place (the fan-out memory is
        # per source), and a copy at a new place, which no fan-out has read yet.
        same, fresh = stack.workdir / "catalog.jsonl", stack.workdir / "first-time.jsonl"
        write_catalog(same, args.items)
        write_catalog(fresh, args.items)
        print(f"machine: {machine()}")
        print(
            f"catalog: {args.items:,} items; {len(names)} connections, {len(names) // 4} per provider; all paused"
        )
        t0 = time.perf_counter()
        seed(r, same, names)
        print(f"seeded every target with the catalog's digests in {time.perf_counter() - t0:.0f} s")
        baseline = names[: args.baseline]
        rows: list[tuple[str, dict[str, Any]]] = []
        for label, path in (("unchanged, first", fresh), ("unchanged", same), ("1% changed", same)):
            if label == "1% changed":
                write_catalog(same, args.items, changed_every=100)
            single = [child("sync", path, [name])["cpu_s"] for name in baseline]
            mean = sum(single) / len(single)
            fan = child("fanout", path, names)
            walls = {}
            for workers in (1, 2):
                stack.start_worker(f"w{workers}", concurrency=1)
                time.sleep(3.0)
                walls[workers] = fleet_wall(r, path, names)
            rows.append((label, {"single": mean, "separate": sum(single) * len(names) / len(single),
                                 "fan": fan["cpu_s"], "walls": walls}))  # fmt: skip
            for n in ("w1", "w2"):
                proc = stack.processes.pop(n)
                proc.terminate()
                proc.wait(30)
        print(f"\n{'resync':<16} {'one sync CPU':>13} {f'{len(names)} separate':>13} {'fan-out CPU':>12} {'x one sync':>11} "
              f"{'wall, 1 worker':>15} {'2 workers':>10}")  # fmt: skip
        for label, f in rows:
            print(f"{label:<16} {f['single']:>11.2f} s {f['separate']:>11.1f} s {f['fan']:>10.2f} s "
                  f"{f['fan'] / f['single']:>10.2f}x {f['walls'][1]:>13.1f} s {f['walls'][2]:>8.1f} s")  # fmt: skip
        measured = "measured" if len(baseline) == len(names) else f"{len(baseline)} measured, scaled"
        print(
            f"\n'one sync': mean CPU of {len(baseline)} separate syncs; '{len(names)} separate': their total ({measured})."
        )
        print("goal: fan-out CPU <= 2x one sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
