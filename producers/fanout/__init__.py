"""Fan-out syncs: one catalog to many connections, read and validated once.

``start_fanout`` names the connections (``plan.resolve_connections``), records one run per
connection tied by a fan-out id, reads the catalog once into a snapshot (``reading``), then
hands each connection's diff and send to the worker fleet as a ``coursesync.fanout_part``
task (``part.send_part``): adding workers shortens a large fan-out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from producers.fanout.part import send_part
from producers.fanout.plan import plan_views, resolve_connections
from producers.fanout.reading import read_snapshot
from producers.fanout.snapshot import fanout_dir, remove
from producers.heartbeat import heartbeat
from producers.sources import Source, is_url
from producers.sync import SyncOptions, end_unstarted
from workers import ledger, ports
from workers.config import Settings, get_settings
from workers.connections import Connection
from workers.errors import CatalogError, ConfigError
from workers.ledger.fanouts import (
    claim_reading,
    create_fanout,
    fanout_runs,
    mark_read,
    new_fanout_id,
    part_done,
)
from workers.ports import FANOUT_PART, Send
from workers.providers.registry import get_connection
from workers.redact import redact_url
from workers.redis_client import get_redis
from workers.sealing import is_sealed, unseal

__all__ = [
    "read_fanout",
    "reserve_fanout",
    "resolve_connections",
    "send_part",
    "start_fanout",
    "start_reserved_fanout",
]

log = logging.getLogger(__name__)


def start_fanout(
    names: str | list[str],
    source: Source,
    options: SyncOptions | None = None,
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
    send: Send | None = None,
) -> str:
    """Sync ``source`` to every connection ``names`` stands for; the fan-out id.

    Raises ConfigError (before anything is recorded) for a name, glob or group that names no
    connection. A catalog that cannot be read ends every run ``failed`` with the reason.
    """
    options = options or SyncOptions(trigger="fanout")
    r, settings = r or get_redis(), settings or get_settings()
    label = source if isinstance(source, str) else "(items)"
    fanout_id = reserve_fanout(names, label, options, r=r, settings=settings)
    read_fanout(fanout_id, source, options.fmt, r=r, settings=settings, send=send)
    return fanout_id


def reserve_fanout(
    names: str | list[str], source_label: str, options: SyncOptions, *, r: redis.Redis, settings: Settings
) -> str:
    """Record the fan-out and one queued run per connection; the fan-out id."""
    connections = [get_connection(name) for name in resolve_connections(names)]
    fanout_id = new_fanout_id()
    shown = redact_url(source_label) if is_url(source_label) else source_label
    recorded: dict[str, Any] = {
        "full": options.full,
        "prune": options.prune,
        "force_prune": options.force_prune,
        "trigger": options.trigger,
        "priority": options.effective_priority,
        "source": shown,
    }
    if options.fmt:
        recorded["format"] = options.fmt
    runs = []
    for conn in connections:
        run_id = ledger.new_run_id()
        ledger.reserve_run(r, run_id=run_id, connection=conn.name, provider=conn.provider,
                           retention_s=settings.run_retention_s, grace_s=settings.api_start_grace_s,
                           options=recorded)  # fmt: skip
        runs.append((conn.name, run_id))
    create_fanout(
        r, fanout_id, runs=runs, source=shown, options=recorded, retention_s=settings.run_retention_s
    )
    return fanout_id


def read_fanout(
    fanout_id: str,
    source: Source,
    fmt: str | None,
    *,
    r: redis.Redis,
    settings: Settings,
    send: Send | None = None,
) -> None:
    """Read the catalog once for every run of the fan-out, then send each run's part to the
    fleet. A connection gone since the fan-out was recorded ends its run with the reason."""
    send = send or ports.installed()
    fanout = ledger.get_fanout(r, fanout_id)
    if fanout is None:
        raise ConfigError(f"no fan-out {fanout_id!r}")
    runs = fanout_runs(fanout)
    live: list[tuple[Connection, str]] = []
    for name, run_id in runs:
        try:
            live.append((get_connection(name), run_id))
        except ConfigError as exc:
            end_unstarted(r, settings, run_id, name, f"the run could not start: {exc}")
    views, view_of = plan_views([conn for conn, _ in live])
    directory = fanout_dir(settings.catalog_dir, fanout_id)
    run_ids = [run_id for _, run_id in live]
    with heartbeat(r, run_ids, every_s=settings.producer_heartbeat_s):
        try:
            meta = read_snapshot(source, fmt, views, directory, settings)
        except CatalogError as exc:
            log.error("fan-out catalog unreadable fanout=%r reason=%s", fanout_id, exc)
            mark_read(r, fanout_id, items=0, view_of={}, reason=str(exc))
            for conn, run_id in live:
                end_unstarted(r, settings, run_id, conn.name, str(exc))
            remove(directory)
            return
    mark_read(r, fanout_id, items=int(meta["total"]),
              view_of={run_id: view_of[conn.name] for conn, run_id in live})  # fmt: skip
    # From here each run waits for a worker to take its part, like a run the API reserved.
    ledger.hold_open(r, run_ids, settings.api_start_grace_s)
    started = {run_id for _, run_id in live}
    for _, run_id in runs:
        if run_id not in started:
            part_done(r, fanout_id, run_id, settings.run_retention_s)  # ended above: no part
    if not live:
        remove(directory)
    for _, run_id in live:
        send(FANOUT_PART, {"fanout_id": fanout_id, "run_id": run_id}, {})


def start_reserved_fanout(
    fanout_id: str,
    *,
    r: redis.Redis | None = None,
    settings: Settings | None = None,
    send: Send | None = None,
) -> str:
    """Read the catalog of a fan-out the HTTP API recorded (its source is in the record)."""
    r, settings = r or get_redis(), settings or get_settings()
    raw = ledger.get_fanout(r, fanout_id)
    if raw is None or raw.get("state") != "reading":
        log.warning("fan-out %r is gone or was read already", fanout_id)
        return fanout_id
    if not claim_reading(r, fanout_id):
        log.warning("fan-out %r already has its reader; this start does nothing", fanout_id)
        return fanout_id
    source = raw.get("source_kept", "")
    source = unseal(source) if is_sealed(source) else source
    fmt = json.loads(raw.get("options") or "{}").get("format")
    read_fanout(fanout_id, source, fmt, r=r, settings=settings, send=send)
    return fanout_id
