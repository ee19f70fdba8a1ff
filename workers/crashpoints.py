"""Named points where a test can kill this process, to prove that a crash there loses nothing.

A test arms a point by creating the file ``<COURSESYNC_CRASH_DIR>/<point>.armed``; the first
process to reach an armed point then creates ``<point>.fired`` and kills itself with SIGKILL,
as the OOM killer or a power cut would: no ``finally``, no acknowledgement. Later processes go
on, so the fleet recovers after the crash, and the test can arm the next point without
restarting anything. Without ``COURSESYNC_CRASH_DIR`` (production), ``crash_point`` costs one
comparison.

The points, in the order a batch meets them (``CRASH_POINTS``), are listed in RELIABILITY.md.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = (
    "producer.after_batch",
    "submit.after_lock",
    "submit.before_send",
    "submit.after_send",
    "submit.after_record",
    "poll.after_answer",
    "record.after_settle",
)

_DIR = os.environ.get("COURSESYNC_CRASH_DIR", "")


def crash_point(name: str) -> None:
    """Die here, at once, if a test armed ``name`` and no process died here yet."""
    if not _DIR:
        return
    base = Path(_DIR)
    if not (base / f"{name}.armed").exists():
        return
    try:
        fd = os.open(base / f"{name}.fired", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # another process died here already
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
