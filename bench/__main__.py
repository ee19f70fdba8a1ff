"""``python -m bench NAME [args]`` runs one benchmark; ``python -m bench`` lists them."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "rate_limit": "achieved request rate vs a provider limit, against Celery's rate_limit",
    "fairness": "a small run's wait behind another connection's 200-batch backlog",
    "poller": "status sweep cost with 10,000 pending jobs, and how soon finished jobs are noticed",
    "e2e": "100,000 items end to end under a provider rate limit, as a ratio to the minimum it allows",
    "resync": "an unchanged 100,000-item resync: wall time, provider requests, digest memory",
    "producer": "producer throughput, peak memory and CPU per item on a 1,000,000-item catalog",
    "slots": "360Learning-like bulk slots: batches/s against the slot-bound maximum",
    "shared_key": "50 connections on one key: use of its limit, 429s, fairness, small runs' wait",
    "upload": "a 1 GB catalog streamed to `coursesync api`: the API's peak RSS and throughput",
    "windows": "20/s + 600/min (+ 5000/h simulated) on one key: never exceeded, used while binding",
    "fanout": "one 100,000-item catalog to 100 connections: producer CPU against separate syncs",
    "dashboard": "page loads with 10,000 runs and a run with 100,000 failed items, vs 10 and 10",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHES:
        print("usage: python -m bench NAME [--help]\n")
        for name, what in BENCHES.items():
            print(f"  {name:<12} {what}")
        return 2
    module = importlib.import_module(f"bench.{sys.argv[1]}")
    return int(module.main(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
