"""Named points where a test can kill this process, to prove that a crash there loses nothing.

``COURSESYNC_CRASH_AT=submit.after_send`` (several: comma-separated) makes the process that
reaches that point kill itself with SIGKILL, as the OOM killer or a power cut would: no
``finally``, no acknowledgement. With ``COURSESYNC_CRASH_DIR`` set, each point fires once per
directory (the first process to create ``<dir>/<point>`` dies; later ones go on), so a fleet
recovers after the crash. Unset, ``crash_point`` costs one set lookup.

The points, in the order a batch meets them (``CRASH_POINTS``), are listed in RELIABILITY.md.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = (
    "submit.after_lock",
    "submit.before_send",
    "submit.after_send",
    "submit.after_record",
    "poll.after_answer",
    "record.after_settle",
    "producer.after_batch",
)

_ARMED = frozenset(p.strip() for p in os.environ.get("COURSESYNC_CRASH_AT", "").split(",") if p.strip())
_DIR = os.environ.get("COURSESYNC_CRASH_DIR", "")


def crash_point(name: str) -> None:
    """Die here, at once, if a test armed ``name``."""
    if name not in _ARMED:
        return
    if _DIR:
        try:
            fd = os.open(Path(_DIR) / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return  # another process died here already
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
