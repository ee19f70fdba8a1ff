"""A producer's sign of life while it reads, so a run whose producer died ends instead of
staying open for thirty days (the doctor ends runs whose producer fell silent)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workers import ledger

__all__ = ["heartbeat"]

log = logging.getLogger(__name__)


@contextmanager
def heartbeat(r: Any, run_id: str | list[str], *, every_s: float) -> Iterator[None]:
    """Beat for ``run_id`` (or each of a list: a fan-out's runs wait while it reads) every
    ``every_s`` seconds on a daemon thread while the block runs.

    A thread, not a beat per item read: a producer stuck in a slow download is still alive
    (its download has its own timeouts), and one killed mid-catalog stops beating at once.
    """
    stop = threading.Event()
    run_ids = [run_id] if isinstance(run_id, str) else run_id

    def beat() -> None:
        while not stop.wait(every_s):
            for one in run_ids:
                try:
                    ledger.heartbeat(r, one)
                except Exception:
                    log.warning("heartbeat of run=%r failed", one, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_ids[0] if run_ids else ''}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every_s + 1)
