"""Runs that start from something other than a catalog named now: a run the HTTP API reserved
(``start_reserved_run``), the failed items of a run (``start_retry_run``), item changes
(``start_changes_run``). Each feeds the same producer as ``producers.sync.produce_run``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import orjson
import redis

from producers.prepare import ItemError, Prepared
from producers.producer import Producer
from producers.prune import deactivation
from producers.readers import Record
from producers.sources import is_url, records_of
from producers.sync import SyncOptions, end_unstarted, produce_run
from workers import ledger
from workers.config import Settings, get_settings
from workers.errors import ConfigError
from workers.ports import Send
from workers.providers.base import OutboundItem
from workers.providers.registry import get_connection
from workers.redis_client import get_redis
from workers.sealing import is_sealed, unseal

__all__ = ["claim_reserved", "start_changes_run", "start_reserved_run", "start_retry_run"]

log = logging.getLogger(__name__)


def claim_reserved(r: redis.Redis, run_id: str) -> dict[str, str] | None:
    """The record of the reserved run ``run_id``, now claimed by this producer; None when the
    run is gone, ended before its producer started (cancelled, or ended by the doctor after
    waiting too long), or another producer has it (a start task delivered twice must not read
    the catalog twice and send every item in two batches)."""
    raw = ledger.get_run(r, run_id)
    if raw is None or raw.get("state") in ledger.FINAL_STATES or raw.get("sealed") == "1":
        log.warning("reserved run %r is gone or ended before its producer started", run_id)
        return None
    if not ledger.claim_start(r, run_id):
        log.warning("reserved run %r already has its producer; this start does nothing", run_id)
        return None
    return raw


def start_reserved_run(
    run_id: str, *, r: redis.Redis | None = None, settings: Settings | None = None, send: Send | None = None
) -> str:
    """Start the run the HTTP API recorded in advance (``ledger.reserve_run``): its source (sealed
    when it carries credentials) and options are in the run record. A run that ended before its
    producer started (cancelled, or ended by the doctor after waiting too long) stays ended.

    An uploaded catalog (a file of ``catalog_dir``) is deleted once read: the batches hold what
    the run still needs.
    """
    r, settings = r or get_redis(), settings or get_settings()
    raw = claim_reserved(r, run_id)
    if raw is None:
        return run_id
    recorded = json.loads(raw.get("options") or "{}")
    source = raw.get("source", "")
    source = unseal(source) if is_sealed(source) else source
    kept = raw.get("webhook_url", "")
    webhook = (unseal(kept) if is_sealed(kept) else kept) or None
    options = SyncOptions.from_record(recorded, trigger="api", webhook_url=webhook)
    extra = {k: recorded[k] for k in ("source", "format", "upload_bytes") if k in recorded}
    try:
        get_connection(str(raw["connection"]))
    except ConfigError as exc:
        # Deleted (or broken) between the API's answer and now: the run ends saying so.
        end_unstarted(r, settings, run_id, str(raw["connection"]), f"the run could not start: {exc}")
        return run_id
    try:
        read = lambda p: p.consume(records_of(source, options.fmt, settings))  # noqa: E731
        return produce_run(str(raw["connection"]), read, options, r=r, settings=settings, extra=extra,
                           run_id=run_id, send=send)  # fmt: skip
    finally:
        uploads = Path(settings.catalog_dir).resolve()
        if not is_url(source) and Path(source).resolve().parent == uploads:
            Path(source).unlink(missing_ok=True)


def start_retry_run(
    run_id: str, *, r: redis.Redis | None = None, settings: Settings | None = None, send: Send | None = None
) -> str:
    """A new run of the items that failed at the provider in ``run_id``, sent again as they were.

    Invalid items are not retried: they would fail validation again until the catalog is fixed.
    """
    r = r or get_redis()
    old = ledger.get_run(r, run_id)
    if old is None:
        raise ConfigError(f"no run {run_id!r} (runs are kept for 30 days; see `coursesync runs`)")

    def feed(producer: Producer) -> None:
        for item_id, digest, payload, op in ledger.retry_items(r, run_id):
            item = OutboundItem(item_id, digest, payload)
            producer.add(Prepared(item, op, len(orjson.dumps(payload))))

    options = SyncOptions(full=True, trigger="retry")
    extra = {"retry_of": run_id}
    return produce_run(old["connection"], feed, options, r=r, settings=settings, extra=extra, send=send)


def start_changes_run(
    connection_name: str,
    upserts: list[dict[str, Any]],
    deletes: list[str],
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
    send: Send | None = None,
) -> str:
    """One run (trigger ``changes``) of item changes: ``upserts`` are catalog items, ``deletes``
    deactivations built as pruning builds them. Diffing stays on: an upsert the provider already
    has ends ``unchanged``, and so does the delete of an item already deactivated.

    A delete on a provider that cannot deactivate is an invalid item saying so, never dropped.
    """

    def feed(producer: Producer) -> None:
        producer.consume(Record(n, item) for n, item in enumerate(upserts, start=1))
        for n, item_id in enumerate(deletes, start=len(upserts) + 1):
            if producer.mapper.to_prune is None:
                why = f"{producer.conn.provider} has no documented way to deactivate content"
                producer.add([ItemError(item_id, n, "(delete)", why)])
            else:
                producer.add(deactivation(producer.mapper, producer.conn.options, item_id))

    options = SyncOptions(trigger="changes")
    return produce_run(connection_name, feed, options, r=r, settings=settings, extra={}, send=send)
