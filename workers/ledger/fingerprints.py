"""Bucket fingerprints: what a target holds, summarised per digest bucket.

A target's content digests live in ``keys.HASH_BUCKETS`` hashes (``keys.content_hashes``). Each
bucket also has a fingerprint (``keys.bucket_fingerprints``): the XOR, over its items, of the
first 64 bits of SHA-1(item_id NUL digest). The settle step keeps it exact in the same step as
each digest it writes (``workers/lua/_digests.lua``). A catalog computes the same per bucket
(``fingerprint``), so a sync to many connections compares 4,096 values per connection and reads
the digests of only the buckets that differ: an unchanged resync reads no digest at all.

Each bucket is split in 16 sub-buckets with fingerprints of their own (``keys.sub_fingerprints``;
an item's sub-bucket: the first hex digit of SHA-1 of its id), so of a bucket that differs only
the digests of the sub-buckets that differ are read: a resync with 1 % of items changed reads
about 1.5 digests per changed item instead of a whole bucket's.

Targets whose digests were written before fingerprints existed are rebuilt once, bucket by
bucket, each in one script step (``rebuild_fingerprints.lua``), then marked complete.
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis

from workers import keys, lua

__all__ = [
    "EMPTY",
    "SUBS",
    "digest_section",
    "fingerprint",
    "fingerprint_hex",
    "load_fingerprint_text",
    "load_fingerprints",
    "load_sub_fingerprints",
    "sub_of",
]

#: The fingerprint of an empty bucket.
EMPTY = "0" * 16
#: Buckets rebuilt per script call: short steps, so Redis keeps serving the fleet meanwhile.
_REBUILD_SLICE = 128
#: Sub-buckets per bucket.
SUBS = 16
#: A byte after the 4,096 fingerprints says they are complete (rebuilt once, kept exact since).
_COMPLETE_AT = 16 * keys.HASH_BUCKETS
_SUB_COMPLETE_AT = 16 * SUBS * keys.HASH_BUCKETS
_COMPLETE = "v"


def fingerprint(item_id: str, digest: str) -> int:
    """One item's share of its bucket's fingerprint (XOR them for the bucket's)."""
    # SHA-1 because Redis' Lua has it (redis.sha1hex) and must compute the same; a checksum
    # of content, not a security boundary.
    raw = hashlib.sha1(f"{item_id}\0{digest}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(raw[:8], "big")


def sub_of(item_id: str) -> int:
    """The sub-bucket of ``item_id`` within its bucket (0-15): fixed whatever its content."""
    return hashlib.sha1(item_id.encode(), usedforsecurity=False).digest()[0] >> 4


def fingerprint_hex(value: int) -> str:
    return f"{value:016x}"


def digest_section(target: str, digests: dict[int, dict[Any, Any]]) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of the digests part of ``settle_batch.lua`` (see ``_digests.lua``)."""
    if not digests:
        return [], []
    found_keys = [keys.bucket_fingerprints(target), keys.sub_fingerprints(target)]
    args: list[Any] = []
    for bucket, mapping in digests.items():
        found_keys.append(keys.content_hashes(target, bucket))
        args += (bucket, len(mapping))
        for pair in mapping.items():
            args.extend(pair)
    return found_keys, args


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else (raw or "")


def load_fingerprints(r: redis.Redis, target: str) -> dict[int, str]:
    """Every bucket's fingerprint (``EMPTY`` when the bucket holds nothing), rebuilding them
    first if this target's were never completed. One GET of the whole string."""
    text = load_fingerprint_text(r, target)
    return {b: text[16 * b : 16 * b + 16] for b in range(keys.HASH_BUCKETS)}


def load_fingerprint_text(r: redis.Redis, target: str) -> str:
    """``load_fingerprints`` as one string: bucket b's at ``[16 * b : 16 * b + 16]``, so two
    whole sets compare in one step."""
    key, subs = keys.bucket_fingerprints(target), keys.sub_fingerprints(target)
    pipe = r.pipeline(transaction=False)
    pipe.get(key)
    pipe.getrange(subs, _SUB_COMPLETE_AT, _SUB_COMPLETE_AT)
    raw, sub_mark = pipe.execute()
    text = _text(raw)
    if len(text) <= _COMPLETE_AT or text[_COMPLETE_AT] != _COMPLETE or _text(sub_mark) != _COMPLETE:
        for start in range(0, keys.HASH_BUCKETS, _REBUILD_SLICE):
            buckets = list(range(start, min(start + _REBUILD_SLICE, keys.HASH_BUCKETS)))
            last = "1" if buckets[-1] == keys.HASH_BUCKETS - 1 else "0"
            hashes = [keys.content_hashes(target, b) for b in buckets]
            lua.run(r, "rebuild_fingerprints", [key, subs, *hashes], [*buckets, last])
        text = _text(r.get(key))
    # Never written (SETRANGE pads with NUL bytes, 16 at a time) or missing: the empty one.
    return text[:_COMPLETE_AT].replace("\0", "0").ljust(_COMPLETE_AT, "0")


def load_sub_fingerprints(r: redis.Redis, target: str, buckets: list[int]) -> list[list[str]]:
    """The 16 sub-bucket fingerprints of each of ``buckets`` (after ``load_fingerprints``, which
    completes them), one GETRANGE each, in one round trip."""
    pipe = r.pipeline(transaction=False)
    key = keys.sub_fingerprints(target)
    for b in buckets:
        pipe.getrange(key, 16 * SUBS * b, 16 * SUBS * (b + 1) - 1)
    found = []
    for raw in pipe.execute():
        text = _text(raw)
        found.append([_fp(text[16 * s : 16 * s + 16]) for s in range(SUBS)])
    return found


def _fp(chunk: str) -> str:
    """A stored fingerprint; never written (NUL padding) or missing: the empty one."""
    return EMPTY if len(chunk) < 16 or chunk[0] == "\0" else chunk
