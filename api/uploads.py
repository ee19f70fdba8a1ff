"""Uploaded catalogs: streamed to ``catalog_dir`` in 1 MiB pieces, durable before the run is answered.

The body never sits in memory whole: a 1 GB catalog costs one chunk of RAM. The file is written
under a temporary name, fsynced, renamed and its directory fsynced, so once the API answers with
a run id, a crash of the API host cannot leave the producer an empty or half file. The producer
(``producers.run_starts.start_reserved_run``) deletes it once read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from api.problems import Problem

__all__ = ["CONTENT_TYPES", "format_of", "store_upload"]

CHUNK_BYTES = 1 << 20
CONTENT_TYPES = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json": "json",
    "text/csv": "csv",
}


def format_of(content_type: str | None) -> str:
    """The catalog format its Content-Type names (``application/x-ndjson``...)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        known = ", ".join(CONTENT_TYPES)
        raise Problem(
            415,
            f"cannot tell the catalog's format from Content-Type {kind or '(none)'!r}; "
            f"send one of {known} or pass ?format=jsonl|json|csv",
            errors=[{"field": "Content-Type", "reason": f"one of {known}"}],
        )
    return CONTENT_TYPES[kind]


def store_upload(stream: IO[bytes], directory: str, name: str, *, max_bytes: int) -> tuple[str, int]:
    """Copy ``stream`` to ``directory/name`` durably; returns the path and the bytes written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    final, partial = folder / name, folder / f".{name}.part"
    written = 0
    try:
        with open(partial, "wb") as out:
            while chunk := stream.read(CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:
                    raise Problem(
                        413,
                        f"the catalog is larger than this API accepts ({max_bytes:,} bytes; "
                        "COURSESYNC_API_MAX_UPLOAD_BYTES)",
                    )
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if written == 0:
            raise Problem(
                400,
                "the request has no body: send the catalog as the body",
                errors=[{"field": "body", "reason": "empty"}],
            )
        os.replace(partial, final)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        partial.unlink(missing_ok=True)
    return str(final), written
