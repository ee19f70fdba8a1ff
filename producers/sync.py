"""Starting runs from a catalog (``start_run``), and the producing every run shares (``produce_run``).

Runs that start from something else (reserved by the API, a retry, item changes) are in
``producers.run_starts``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from producers.gc_pace import streaming_pace
from producers.heartbeat import heartbeat
from producers.producer import Producer
from producers.prune import PrunePlan, plan_prune
from producers.sources import Source, records_of
from workers import ledger, ports
from workers.config import Settings, get_settings
from workers.errors import CatalogError, RunCancelled
from workers.ports import Send
from workers.providers.registry import get_connection
from workers.redact import redact_url
from workers.redis_client import get_redis
from workers.sealing import seal

__all__ = [
    "SyncOptions",
    "dry_run",
    "end_unstarted",
    "produce_run",
    "start_run",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncOptions:
    """How to run a sync.

    ``full`` resends unchanged items; ``fmt`` overrides the file extension; ``webhook_url``
    receives the final run document (besides the connection's own webhook, if any).
    """

    full: bool = False
    prune: bool = False
    force_prune: bool = False
    fmt: str | None = None
    trigger: str = "api"
    webhook_url: str | None = None
    #: ``normal`` or ``low``. None: ``low`` for scheduled resyncs, which then wait behind runs
    #: started by hand or by an upstream system on the same provider budget (never starving).
    priority: str | None = None

    @property
    def effective_priority(self) -> str:
        return self.priority or ("low" if self.trigger == "schedule" else "normal")

    @classmethod
    def from_record(
        cls, recorded: dict[str, Any], *, trigger: str, webhook_url: str | None = None
    ) -> SyncOptions:
        """The options a reserved run's record holds (``trigger``: when it names none)."""
        return cls(
            full=bool(recorded.get("full")),
            prune=bool(recorded.get("prune")),
            force_prune=bool(recorded.get("force_prune")),
            fmt=recorded.get("format"),
            trigger=str(recorded.get("trigger", trigger)),
            webhook_url=webhook_url,
            priority=recorded.get("priority"),
        )


def end_unstarted(r: redis.Redis, settings: Settings, run_id: str, connection: str, reason: str) -> None:
    """End a recorded run that will never be read, with ``reason`` (its connection vanished,
    its catalog or snapshot cannot be read)."""
    state = ledger.seal_run(r, run_id, connection, retention_s=settings.run_retention_s, fatal=reason)
    if state is not None:
        ledger.run_finished(r, run_id, state, settings)


def start_run(
    connection_name: str,
    source: Source,
    options: SyncOptions | None = None,
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    send: Send | None = None,
) -> str:
    """Read ``source`` into a new run of ``connection_name`` and return the run id.

    ``run_id`` names the run in advance (scheduled resyncs reserve it before the task starts).
    ``send`` puts the batches' tasks on the broker (default: the one the entry point installed,
    ``workers.ports``).

    Raises ConfigError for an unknown or broken connection (before any run exists). Problems
    with the catalog as a whole end the run ``failed`` with the reason; bad items are recorded
    as invalid and never stop the others.
    """
    options = options or SyncOptions()

    def feed(producer: Producer) -> None:
        producer.consume(records_of(source, options.fmt, producer.settings))

    return produce_run(
        connection_name, feed, options, r=r, settings=settings, extra={}, run_id=run_id, send=send
    )


def produce_run(
    connection_name: str,
    feed: Callable[[Producer], None],
    options: SyncOptions,
    *,
    r: redis.Redis | None,
    settings: Settings | None,
    extra: dict[str, Any],
    run_id: str | None = None,
    send: Send | None = None,
) -> str:
    """Record a run of ``connection_name`` (or take over the one reserved as ``run_id``), let
    ``feed`` give its producer the items, and seal it; the run id. Every way of starting a run
    ends here."""
    settings = settings or get_settings()
    r = r or get_redis()
    connection = get_connection(connection_name)
    run_id = run_id or ledger.new_run_id()
    # Before the run exists: a connection whose target cannot be named is a ConfigError.
    producer = Producer(
        r,
        settings,
        connection,
        run_id,
        full=options.full,
        send=send or ports.installed(),
        priority=options.effective_priority,
    )
    recorded: dict[str, Any] = {
        "force_prune": options.force_prune,
        "full": options.full,
        "prune": options.prune,
        "trigger": options.trigger,
        "priority": options.effective_priority,
        **extra,
    }
    webhook = ""
    if options.webhook_url:
        # The run document shows the URL redacted; the worker that announces the run's end
        # reads it back whole, sealed when it carries credentials or a signed query.
        shown = recorded["webhook_url"] = redact_url(options.webhook_url)
        webhook = options.webhook_url if shown == options.webhook_url else seal(options.webhook_url)
    ledger.create_run(
        r,
        run_id=run_id,
        connection=connection.name,
        provider=connection.provider,
        retention_s=settings.run_retention_s,
        options=recorded,
        target=producer.target.id,
        target_label=producer.target.label,
        webhook_url=webhook,
    )
    retention_s = settings.run_retention_s
    try:
        with heartbeat(r, run_id, every_s=settings.producer_heartbeat_s):
            fatal = _feed(producer, feed)
            if options.prune and not fatal and producer.total:
                _prune(r, settings, producer, options)
            producer.finish()
    except RunCancelled:
        # `coursesync cancel`: stop reading; the seal below fails what was read but not sent.
        log.info("producer stopped: run=%r was cancelled", run_id)
        fatal = ""
    except Exception as exc:
        # A bug or a lost Redis connection: end the run visibly rather than leave it "queued"
        # forever, then let the error surface. The batches already enqueued still go out. If
        # Redis itself is gone, the doctor ends the run once its heartbeat is old enough.
        log.exception("producer stopped run=%r", run_id)
        reason = f"the producer stopped: {type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            state = ledger.seal_run(r, run_id, connection.name, retention_s=retention_s, fatal=reason)
            if state is not None:
                ledger.run_finished(r, run_id, state, settings)
        raise
    if not fatal and producer.total == 0 and not ledger.is_cancelled(r, run_id):
        fatal = (
            "the catalog holds no items"
            if "retry_of" not in extra
            else "the run had no failed items to retry"
        )
    state = ledger.seal_run(r, run_id, connection.name, retention_s=retention_s, fatal=fatal)
    if state is not None:
        ledger.run_finished(r, run_id, state, settings)
    return run_id


def dry_run(
    connection_name: str,
    source: Source,
    options: SyncOptions | None = None,
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """What a sync would do, without sending or recording anything."""
    options = options or SyncOptions()
    r, settings = r or get_redis(), settings or get_settings()
    connection = get_connection(connection_name)
    producer = Producer(r, settings, connection, "dry-run", full=options.full, dry_run=True)
    fatal = _feed(producer, lambda p: p.consume(records_of(source, options.fmt, settings)))
    producer.finish_catalog()
    report: dict[str, Any] = {
        "connection": connection.name,
        "provider": connection.provider,
        "target": producer.target.id,
        "target_label": producer.target.label,
        "total": producer.total,
    }
    for key in ("created", "updated", "unchanged", "rejected"):
        report[key] = producer.report[key]
    if options.prune and not fatal:
        plan = _prune(r, settings, producer, options)
        report["pruned"] = 0 if plan.refused else len(plan.candidates)
        report["prune_refused"] = plan.refused or None
    report["errors"] = producer.first_errors
    if fatal:
        report["fatal"] = fatal
    return report


def _feed(producer: Producer, feed: Callable[[Producer], None]) -> str:
    """Run ``feed``; a catalog that cannot be read is the run's fatal reason (no pruning then)."""
    try:
        with streaming_pace():
            feed(producer)
    except CatalogError as exc:
        log.error("catalog unreadable run=%r reason=%s", producer.run_id, exc)
        return str(exc)
    return ""


def _prune(r: redis.Redis, settings: Settings, producer: Producer, options: SyncOptions) -> PrunePlan:
    producer.finish_catalog()  # digests of this catalog's items first, so none is pruned
    plan = plan_prune(
        r,
        producer.conn,
        producer.mapper,
        producer.seen,
        target=producer.target.id,
        unattributed=producer.unattributed,
        unattributed_lines=producer.unattributed_lines,
        max_fraction=settings.prune_max_fraction,
        force=options.force_prune,
    )
    if not producer.dry_run:
        ledger.record_prune_plan(r, producer.run_id, candidates=len(plan.candidates), refused=plan.refused)
    if plan.refused:
        log.warning("prune refused run=%r: %s", producer.run_id, plan.refused)
        return plan
    for prepared in plan.items(producer.mapper, producer.conn.options):
        producer.add_prune(prepared)
    return plan
