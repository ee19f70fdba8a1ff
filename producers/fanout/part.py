"""One connection's part of a fan-out: diff its view of the catalog against what its target
holds, and send what differs, as its own run.

The diff starts from bucket fingerprints (``workers.ledger.fingerprints``): a bucket whose
fingerprint equals the target's holds exactly the digests this view has, so its items are
``unchanged`` without reading a digest. Only buckets that differ are read, item by item.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import redis

from producers.fanout.diffs import Changes, shared_diff
from producers.fanout.snapshot import SnapshotReader, fanout_dir, remove
from producers.prepare import ItemError, Prepared, map_course, validate_record
from producers.producer import Producer
from producers.readers import Record
from producers.run_starts import claim_reserved
from producers.sync import SyncOptions, end_unstarted, produce_run
from schemas.course import Course
from workers import keys, ledger
from workers.config import Settings, get_settings
from workers.errors import ConfigError
from workers.ledger.fanouts import fanout_runs, part_done
from workers.ledger.fingerprints import load_fingerprint_text, load_sub_fingerprints
from workers.ports import Send
from workers.providers.base import OutboundItem
from workers.providers.registry import get_connection
from workers.redis_client import get_redis

__all__ = ["diff_view", "send_part"]

log = logging.getLogger(__name__)

#: Buckets whose digests are read per Redis round trip.
_BUCKETS_PER_READ = 256


def send_part(
    fanout_id: str, run_id: str, *, r: redis.Redis | None = None, settings: Settings | None = None,
    send: Send | None = None,
) -> str:  # fmt: skip
    """Diff and send the run ``run_id`` of fan-out ``fanout_id``. A run that ended already
    (cancelled before its turn) or that another delivery of this task took does nothing."""
    r, settings = r or get_redis(), settings or get_settings()
    fanout = ledger.get_fanout(r, fanout_id)
    if fanout is None:
        return run_id
    directory = fanout_dir(settings.catalog_dir, fanout_id)
    raw = claim_reserved(r, run_id)
    if raw is None:
        # Ended before its turn (cancelled...), or taken by another delivery: either way its
        # part is done, or will be counted by the one that took it (a set: counted once).
        _done(r, settings, fanout_id, run_id, fanout)
        return run_id
    recorded = json.loads(raw.get("options") or "{}")
    options = SyncOptions.from_record(recorded, trigger="fanout")
    connection = str(raw["connection"])
    try:
        get_connection(connection)
        reader = SnapshotReader(directory, int(raw["view"]))
    except (ConfigError, OSError, KeyError, ValueError) as exc:
        end_unstarted(r, settings, run_id, connection, f"the run could not start: {exc}")
        _done(r, settings, fanout_id, run_id, fanout)
        return run_id
    try:
        extra = {k: recorded[k] for k in ("source", "format") if k in recorded}
        extra["fanout"] = fanout_id

        def feed(producer: Producer) -> None:
            diff_view(producer, reader, full=options.full, prune=options.prune)

        return produce_run(
            connection, feed, options, r=r, settings=settings, extra=extra, run_id=run_id, send=send
        )
    finally:
        reader.close()
        _done(r, settings, fanout_id, run_id, fanout)


def _done(r: redis.Redis, settings: Settings, fanout_id: str, run_id: str, fanout: dict[str, str]) -> None:
    """The last part to finish removes the snapshot."""
    if part_done(r, fanout_id, run_id, settings.run_retention_s) >= len(fanout_runs(fanout)):
        remove(fanout_dir(settings.catalog_dir, fanout_id))


def diff_view(producer: Producer, reader: SnapshotReader, *, full: bool, prune: bool) -> None:
    """Give ``producer`` the view's invalid items, count its unchanged and excluded ones, and
    add the items whose digests the target does not hold. The diff is shared with the parts
    whose targets hold the same digests (``producers.fanout.diffs``)."""
    invalid_ids: list[str] = []
    for errors in reader.invalid():
        invalid_ids.append(errors[0].item_id)
        producer.add(errors)
    # What is added below differs from what the target holds (diffed here, bucket by bucket):
    # the producer must not look each item's digest up again.
    producer.full = True
    view = reader.view
    counts: list[int] = view["counts"]
    if full:
        dirty = [b for b, n in enumerate(counts) if n]
        changes = _changes(producer, reader, dirty, full=True)
    else:
        mine = "".join(view["fingerprints"])
        held = load_fingerprint_text(producer.r, producer.target.id)
        # An unchanged connection costs one comparison of two strings, not 4,096.
        dirty = [] if held == mine else _dirty_buckets(mine, held, counts)
        changes = shared_diff(
            reader.base, held, producer.run_id, lambda: _changes(producer, reader, dirty, full=False)
        ) if dirty else iter(())  # fmt: skip
    producer.count_settled(unchanged=sum(counts) - sum(counts[b] for b in dirty), excluded=view["excluded"])
    for unchanged, entries in changes:
        producer.count_settled(unchanged=unchanged)
        for entry in entries:
            item_id, size, line = entry[0], entry[3], entry[5]
            if not producer.fits(size):
                limit = producer.conn.max_request_bytes
                why = f"the item is {size} bytes once mapped; one request may carry at most {limit}"
                producer.add([ItemError(item_id, line, "(item)", why)])
            else:
                producer.add(_prepared(producer, reader, entry))
    if prune:
        # What pruning keeps: the view's items and the catalog's invalid ones. Excluded items are
        # not kept: a customer no longer licensed for an item loses it like one gone from the catalog.
        producer.seen.update(hash(entry[0]) for entry in _all_entries(reader))
        producer.seen.update(hash(item_id) for item_id in invalid_ids)
        producer.unattributed = int(reader.meta["unattributed"])
        producer.unattributed_lines = list(reader.meta["unattributed_lines"])


def _changes(producer: Producer, reader: SnapshotReader, dirty: list[int], *, full: bool) -> Changes:
    """Of the ``dirty`` buckets, ``_BUCKETS_PER_READ`` at a time: how many items the target
    holds as they are, and the entries of those it does not."""
    for start in range(0, len(dirty), _BUCKETS_PER_READ):
        chunk = dirty[start : start + _BUCKETS_PER_READ]
        entries = [reader.bucket(b) for b in chunk]
        unchanged = 0
        if not full:
            # Of each bucket that differs, only the sub-buckets that differ are read item by item.
            held_subs = load_sub_fingerprints(producer.r, producer.target.id, chunk)
            for n, (b, held_sub) in enumerate(zip(chunk, held_subs, strict=True)):
                dirty_subs = {s for s, fp in enumerate(reader.subs(b)) if fp != held_sub[s]}
                kept = [e for e in entries[n] if e[6] in dirty_subs]
                unchanged += len(entries[n]) - len(kept)
                entries[n] = kept
        held = _held_digests(producer, chunk, entries, full=full)
        changed = []
        for bucket_entries, digests in zip(entries, held, strict=True):
            for entry, stored in zip(bucket_entries, digests, strict=True):
                if stored == entry[1]:
                    unchanged += 1
                else:
                    changed.append(entry)
        yield unchanged, changed


def _prepared(producer: Producer, reader: SnapshotReader, entry: list[Any]) -> Prepared | list[ItemError]:
    """The item of ``entry`` as the producer sends it: its payload from the snapshot or, for an
    item whose digest the memory knew, mapped again from its catalog line."""
    item_id, digest, op, size, _, line = entry[:6]
    raw = reader.payload(entry)
    if raw is not None:  # the batch stores these bytes as they are (``OutboundItem.raw``)
        return Prepared(OutboundItem(item_id, digest, orjson.loads(raw), raw), op, size)
    course = validate_record(Record(line, line=reader.line(entry)))  # valid when read: valid again
    if not isinstance(course, Course):
        return course
    return map_course(course, line, producer.mapper, producer.conn.options)


def _dirty_buckets(mine: str, held: str, counts: list[int]) -> list[int]:
    """The buckets of the view whose fingerprint (in ``mine``) differs from the target's."""
    return [
        b for b, n in enumerate(counts) if n and mine[16 * b : 16 * (b + 1)] != held[16 * b : 16 * (b + 1)]
    ]


def _held_digests(
    producer: Producer, buckets: list[int], entries: list[list[Any]], *, full: bool
) -> list[list[str | None]]:
    """The digest the target holds for each entry of each bucket (None: none), one HMGET per
    bucket that has entries, all in one round trip."""
    if full:
        return [[None] * len(e) for e in entries]
    pipe = producer.r.pipeline(transaction=False)
    asked = [bool(e) for e in entries]
    for b, bucket_entries in zip(buckets, entries, strict=True):
        if bucket_entries:
            pipe.hmget(keys.content_hashes(producer.target.id, b), [e[0] for e in bucket_entries])
    answers = iter(pipe.execute())
    return [[_s(v) if v is not None else None for v in next(answers)] if a else [] for a in asked]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _all_entries(reader: SnapshotReader) -> Iterator[list[Any]]:
    for b in range(keys.HASH_BUCKETS):
        yield from reader.bucket(b)
