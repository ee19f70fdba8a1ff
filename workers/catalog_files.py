"""The catalog files every worker shares under ``catalog_dir``: where fan-out snapshots and
the fan-out memory live, and removing what no fan-out will read again.

A fan-out's last part removes its snapshot (``producers.fanout.part``). A reader or a worker
killed at the wrong moment leaves one behind; the hourly cleanup (``coursesync.cleanup``)
removes it once the fan-out has ended or its record is gone. The memory of a catalog source
(``producers.fanout.memory``) is removed once no fan-out has read that source for as long as
runs are kept, and a memory left half-written by a killed reader after a day.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis

from workers.ledger import fanout_document
from workers.ledger.fanouts import is_fanout_id

__all__ = [
    "MEMORY_PARTIAL_KEPT_S",
    "SNAPSHOT_MIN_AGE_S",
    "fanout_dir",
    "fanouts_root",
    "memory_root",
    "sweep_fanout_memory",
    "sweep_fanout_snapshots",
]

#: A snapshot directory touched this recently is left alone whatever its record says: its
#: reader may have created it a moment before the record became visible.
SNAPSHOT_MIN_AGE_S = 600.0
#: A memory being written (``.next``) or replaced (``.old``) is older than this only when its
#: reader died: a live one writes it within its reading.
MEMORY_PARTIAL_KEPT_S = 86_400.0


def fanouts_root(catalog_dir: str) -> Path:
    return Path(catalog_dir) / "fanouts"


def fanout_dir(catalog_dir: str, fanout_id: str) -> Path:
    return fanouts_root(catalog_dir) / fanout_id


def memory_root(catalog_dir: str) -> Path:
    return Path(catalog_dir) / "fanout-memory"


def sweep_fanout_memory(catalog_dir: str, *, kept_s: float) -> list[str]:
    """Remove the memories no fan-out has written for ``kept_s`` (and half-written ones older
    than ``MEMORY_PARTIAL_KEPT_S``); their names."""
    root = memory_root(catalog_dir)
    if not root.is_dir():
        return []
    removed = []
    for directory in sorted(root.iterdir()):
        try:
            age_s = time.time() - directory.stat().st_mtime
        except FileNotFoundError:
            continue
        partial = directory.name.endswith((".next", ".old"))
        if age_s > (MEMORY_PARTIAL_KEPT_S if partial else kept_s):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory.name)
    return removed


def sweep_fanout_snapshots(
    r: redis.Redis, catalog_dir: str, *, min_age_s: float = SNAPSHOT_MIN_AGE_S
) -> list[str]:
    """Remove the snapshots of fan-outs that ended (every run did) or whose record is gone;
    the ids removed. One still reading or running is kept, however old."""
    root = fanouts_root(catalog_dir)
    if not root.is_dir():
        return []
    removed = []
    for directory in sorted(root.iterdir()):
        if not directory.is_dir() or not is_fanout_id(directory.name):
            continue
        try:
            age_s = time.time() - directory.stat().st_mtime
        except FileNotFoundError:  # its last part removed it meanwhile
            continue
        if age_s < min_age_s:
            continue
        doc = fanout_document(r, directory.name)
        if doc is None or doc["state"] not in ("reading", "running"):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory.name)
    return removed
