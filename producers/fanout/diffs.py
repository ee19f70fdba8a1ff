"""Diffs shared by the parts of a fan-out whose targets hold the same digests.

A vendor's customers are mostly synced from the same catalog, so the targets of one view (one
provider's mapping) tend to hold exactly the same digests, and the same 1 % changed is found
by each of them: a sub-fingerprint and a digest lookup per dirty bucket, once per connection.
Targets whose 4,096 bucket fingerprints are equal hold the same items (the trust the diff
already puts in a bucket whose fingerprint matches), so they get the same diff: the first part
to diff against such a target writes what it found beside the snapshot, and the others read it.

The file is named by the view and a hash of the target's fingerprints, written under a name of
its own and renamed into place only once whole: a part that dies half-way leaves no half diff,
and a part that starts meanwhile diffs for itself. The snapshot's removal removes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

__all__ = ["Changes", "shared_diff"]

#: ``(unchanged, entries)`` per group of buckets: how many items the target holds as they are,
#: and the snapshot entries of those it does not.
Changes = Iterator[tuple[int, list[list[Any]]]]


def shared_diff(base: Path, held: str, owner: str, diff: Callable[[], Changes]) -> Changes:
    """The changes of view ``base`` (``<snapshot>/v<k>``) against a target whose fingerprints
    are ``held``: read from the part that diffed such a target first, else ``diff()``, written
    as it goes for the parts after this one (``owner``: this part's unique name)."""
    path = Path(f"{base}.diff-{hashlib.sha256(held.encode()).hexdigest()[:32]}")
    try:
        found = path.open("rb")
    except FileNotFoundError:
        yield from _diff_and_keep(path, owner, diff)
        return
    with found:
        for line in found:
            unchanged, entries = orjson.loads(line)
            yield int(unchanged), entries


def _diff_and_keep(path: Path, owner: str, diff: Callable[[], Changes]) -> Changes:
    # Sharing only saves work: a diff that cannot be written is still sent, and the parts
    # after this one diff for themselves. Errors of the diff itself are not caught here.
    partial = path.with_name(f"{path.name}.{owner}")
    out = _open(partial)
    try:
        for unchanged, entries in diff():
            if out is not None:
                try:
                    out.write(orjson.dumps([unchanged, entries]) + b"\n")
                except OSError:
                    out.close()
                    out = None
            yield unchanged, entries
        if out is not None:
            done, out = out, None
            with contextlib.suppress(OSError):
                done.close()
                # Another part may have renamed its own a moment ago: the two are the same diff.
                os.replace(partial, path)
    finally:
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()
        partial.unlink(missing_ok=True)


def _open(path: Path) -> BinaryIO | None:
    try:
        return path.open("wb")
    except OSError:
        return None
