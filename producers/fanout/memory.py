"""What the last fan-out of a catalog learnt: each line's hash and, per mapping, its digest.

A fan-out maps every item once per mapping (per provider, in practice four times), and that
is most of its cost. A nightly resync sends the same catalog again, most lines byte for byte
as before. A line whose bytes are unchanged maps to the same payload under the same mapping
(``Mapper.mapping_key`` names the provider, the mapping's version and every option it reads),
so its digest is known without mapping it again.

The memory lives in ``<catalog_dir>/fanout-memory/<key>/`` (``key``: a hash of the catalog's
source and format), one file per shard of digest buckets, so a fan-out reads and rewrites it
1/64 at a time and memory stays flat in the catalog's size. Each shard file is one JSON
object: ``{item_id: [line_hash, {mapping_key: [digest, op, size, share]}]}`` (``share``: the
item's share of its bucket's fingerprint, ``workers.ledger.fingerprints.fingerprint``, kept so
an unchanged line costs no hashing per mapping either).

A fan-out writes the next memory beside the old one and swaps it in when it has read the
whole catalog. A shard that is missing or unreadable is an empty one: the lines are mapped
again, never trusted. Only successes are remembered; a line a mapping refused is mapped (and
refused, with its reason) again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Any

import orjson

from workers.catalog_files import memory_root

__all__ = ["Memory", "line_hash"]

#: ``{item_id: [line_hash, {mapping_key: [digest, op, size, share]}]}``
Shard = dict[str, list[Any]]


def line_hash(line: bytes) -> str:
    return hashlib.blake2b(line, digest_size=12).hexdigest()


class Memory:
    """The memory of one catalog source: read the last fan-out's, write this one's."""

    def __init__(self, catalog_dir: str, source: str, fmt: str | None, fanout_id: str) -> None:
        key = hashlib.sha256(f"{source}\0{fmt or ''}".encode()).hexdigest()[:24]
        self.path = memory_root(catalog_dir) / key
        self._next = memory_root(catalog_dir) / f"{key}.{fanout_id}.next"
        #: Whether a fan-out of this source left a memory (else: map as read, and learn).
        self.known = self.path.is_dir()

    def shard(self, shard: int) -> Shard:
        """What the last fan-out of this source learnt of the items of ``shard``."""
        try:
            found = orjson.loads((self.path / f"m{shard}").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return found if isinstance(found, dict) else {}

    def write(self, shard: int, learnt: Shard) -> None:
        # The memory only saves work: a shard that cannot be written is mapped again next time.
        try:
            self._next.mkdir(parents=True, exist_ok=True)
            (self._next / f"m{shard}").write_bytes(orjson.dumps(learnt))
        except OSError:
            pass

    def commit(self) -> None:
        """This fan-out's memory replaces the last one (a concurrent fan-out of the same source
        may win instead: both are true)."""
        if not self._next.is_dir():  # nothing was learnt (no line to remember)
            return
        old = self.path.with_name(self._next.name.removesuffix(".next") + ".old")
        try:
            os.replace(self.path, old)
        except FileNotFoundError:
            pass
        except OSError:  # another fan-out swapped at the same moment: keep theirs
            shutil.rmtree(self._next, ignore_errors=True)
            return
        try:
            os.replace(self._next, self.path)
        except OSError:
            shutil.rmtree(self._next, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)

    def abandon(self) -> None:
        shutil.rmtree(self._next, ignore_errors=True)
