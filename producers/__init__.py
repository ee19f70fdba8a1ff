"""coursesync producers: read a catalog, validate it, chunk it and enqueue its batches.

``sync_catalog(connection, source) -> run_id`` is the Python entry point of product.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from producers.sync import SyncOptions, start_run

__all__ = ["SyncOptions", "sync_catalog"]


def sync_catalog(
    connection: str,
    source: str | Iterable[dict[str, Any]],
    *,
    full: bool = False,
    prune: bool = False,
    fmt: str | None = None,
) -> str:
    """Start a run of ``connection`` from ``source`` and return its run id.

    ``source`` is a file path, an http(s) URL of a JSONL/JSON/CSV catalog, or an iterable of
    item dicts. Progress and outcome: ``workers.ledger.run_document(redis, run_id)`` or
    ``coursesync status RUN_ID``.
    """
    # This is an entry point: the Celery app it loads installs how batches reach the workers.
    from workers.celery_app import send

    options = SyncOptions(full=full, prune=prune, fmt=fmt, trigger="api")
    return start_run(connection, source, options, send=send)
