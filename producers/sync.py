"""Starting runs: from a catalog (``start_run``) or from the failed items of a run (``start_retry_run``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from producers.prepare import Prepared
from producers.producer import Producer
from producers.readers import Record
from producers.sources import detect_format, open_source, read_records
from workers.config import Settings, get_settings
from workers.errors import CatalogError, ConfigError
from workers.providers.base import OutboundItem
from workers.providers.http import dumps
from workers.providers.registry import get_connection
from workers.redis_client import get_redis
from workers.runlife import run_finished
from workers.store import runs
from workers.store.items import retry_items

__all__ = ["SyncOptions", "start_retry_run", "start_run"]

log = logging.getLogger(__name__)

Source = str | Iterable[dict[str, Any]]


@dataclass(frozen=True)
class SyncOptions:
    """How to run a sync.

    ``full`` resends unchanged items; ``fmt`` overrides the file extension; ``webhook_url``
    receives the final run document (besides the connection's own webhook, if any).
    """

    full: bool = False
    prune: bool = False
    fmt: str | None = None
    trigger: str = "api"
    webhook_url: str | None = None


def start_run(
    connection_name: str,
    source: Source,
    options: SyncOptions | None = None,
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
) -> str:
    """Read ``source`` into a new run of ``connection_name`` and return the run id.

    Raises ConfigError for an unknown or broken connection (before any run exists). Problems
    with the catalog as a whole end the run ``failed`` with the reason; bad items are recorded
    as invalid and never stop the others.
    """
    options = options or SyncOptions()

    def feed(producer: Producer) -> None:
        producer.consume(_records(source, options.fmt))

    return _run(connection_name, feed, options, r=r, settings=settings, extra={})


def start_retry_run(run_id: str, *, r: redis.Redis | None = None, settings: Settings | None = None) -> str:
    """A new run of the items that failed at the provider in ``run_id``, sent again as they were.

    Invalid items are not retried: they would fail validation again until the catalog is fixed.
    """
    r = r or get_redis()
    old = runs.get_run(r, run_id)
    if old is None:
        raise ConfigError(f"no run {run_id!r} (runs are kept for 30 days; see `coursesync runs`)")

    def feed(producer: Producer) -> None:
        for item_id, digest, payload, op in retry_items(r, run_id):
            item = OutboundItem(item_id, digest, payload)
            producer.add(Prepared(item, op, len(dumps(payload))))

    options = SyncOptions(full=True, trigger="retry")
    return _run(old["connection"], feed, options, r=r, settings=settings, extra={"retry_of": run_id})


def _run(
    connection_name: str,
    feed: Callable[[Producer], None],
    options: SyncOptions,
    *,
    r: redis.Redis | None,
    settings: Settings | None,
    extra: dict[str, Any],
) -> str:
    settings = settings or get_settings()
    r = r or get_redis()
    connection = get_connection(connection_name)
    run_id = runs.new_run_id()
    recorded: dict[str, Any] = {
        "full": options.full,
        "prune": options.prune,
        "trigger": options.trigger,
        **extra,
    }
    if options.webhook_url:
        recorded["webhook_url"] = options.webhook_url
    runs.create_run(
        r,
        run_id=run_id,
        connection=connection.name,
        provider=connection.provider,
        retention_s=settings.run_retention_s,
        options=recorded,
    )
    producer = Producer(r, settings, connection, run_id, full=options.full)
    fatal = ""
    try:
        feed(producer)
    except CatalogError as exc:
        fatal = str(exc)
        log.error("catalog unreadable run=%r reason=%s", run_id, fatal)
    producer.finish()
    if not fatal and producer.total == 0:
        fatal = (
            "the catalog holds no items"
            if "retry_of" not in extra
            else "the run had no failed items to retry"
        )
    state = runs.seal_run(r, run_id, fatal)
    if state is not None:
        run_finished(r, run_id, state, settings)
    return run_id


def _records(source: Source, fmt: str | None) -> Iterator[Record]:
    if isinstance(source, str):
        fmt = detect_format(source, fmt)
        with open_source(source) as stream:
            yield from read_records(stream, fmt)
    else:
        for index, data in enumerate(source, start=1):
            yield Record(index, data)
