"""The CLI's side of fan-outs: ``coursesync sync 'acme-*' catalog.jsonl`` and
``coursesync status f_...``."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from coursesync.report import EXIT_ITEMS, EXIT_OK, EXIT_TIMEOUT

__all__ = ["fanout_summary", "is_fanout_spec", "report_fanout"]

_MARKS = frozenset(",*?[@")


def is_fanout_spec(connection: str) -> bool:
    """A list, glob or group names a fan-out; a plain name, one connection."""
    return bool(_MARKS & set(connection))


def fanout_summary(doc: dict[str, Any]) -> str:
    c = doc["counts"]
    by_state = ", ".join(f"{n} {s}" for s, n in doc["runs_by_state"].items()) or "none yet"
    lines = [
        f"fan-out {doc['fanout_id']}: {doc['state']}  ({len(doc['runs'])} runs: {by_state})",
        f"  catalog  {doc['items']:,} items read once from {doc['source']}",
        f"  items    over all runs: {c['succeeded']:,} succeeded, {c['failed']:,} failed, "
        f"{c['invalid']:,} invalid, {c['unchanged']:,} unchanged, {c['excluded']:,} excluded, "
        f"{c['pending']:,} pending",
    ]
    if doc.get("reason"):
        lines.append(f"  reason   {doc['reason']}")
    for run in doc["runs"]:
        rc = run["counts"]
        lines.append(
            f"  {run['run_id']}  {run['connection']:<24} {run['state']:<22} "
            f"ok {rc['succeeded']:,}  failed {rc['failed']:,}  unchanged {rc['unchanged']:,}  "
            f"excluded {rc['excluded']:,}"
        )
    return "\n".join(lines)


def _exit(doc: dict[str, Any]) -> int:
    c = doc["counts"]
    return EXIT_OK if doc["state"] == "completed" and not c["failed"] and not c["invalid"] else EXIT_ITEMS


def report_fanout(r: Any, fanout_id: str, *, wait: bool, as_json: bool, timeout_s: float | None) -> int:
    """Print the fan-out id; with ``wait``, follow it until every run ended, then the outcome."""
    from workers.ledger import fanout_document

    print(fanout_id, file=sys.stderr if as_json else sys.stdout, flush=True)
    if not (wait or as_json):
        return EXIT_OK
    deadline = time.monotonic() + timeout_s if timeout_s else None
    last = ""
    while True:
        doc = fanout_document(r, fanout_id)
        if doc is None:
            print(f"coursesync: fan-out {fanout_id} disappeared from Redis", file=sys.stderr)
            return EXIT_ITEMS
        c = doc["counts"]
        line = (f"{doc['state']}: {c['total'] - c['pending']:,}/{c['total']:,} items settled over "
                f"{len(doc['runs'])} runs")  # fmt: skip
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        if doc["state"] not in ("reading", "running"):
            break
        if deadline is not None and time.monotonic() > deadline:
            print(
                f"coursesync: --timeout passed; fan-out {fanout_id} is still {doc['state']}", file=sys.stderr
            )
            return EXIT_TIMEOUT
        time.sleep(0.5)
    print(json.dumps(doc, indent=2) if as_json else fanout_summary(doc))
    return _exit(doc)
