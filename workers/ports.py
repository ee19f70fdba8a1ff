"""coursesync's one port to Celery: the name of every task, and the function that sends one.

Domain code never imports the Celery app. Whatever sends a task is handed a ``Send`` function
(``Deps.send`` in the worker, the ``send`` argument of the producer's ``start_run``). The Celery
app's module builds the real one around ``app.send_task`` and *installs* it when an entry
point imports it (a worker, beat, the CLI, ``producers.sync_catalog``); the producer uses the
installed one when it is handed none. Tests install or hand in their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "CLEANUP",
    "DOCTOR",
    "FANOUT_PART",
    "FLUSH_CHANGES",
    "HOUSEKEEPING",
    "NOTIFY_RUN",
    "PING",
    "POLL_JOBS",
    "PUMP",
    "SCHEDULED_SYNC",
    "SCHEDULES",
    "START_FANOUT",
    "START_RUN",
    "SUBMIT_BATCH",
    "SYNC_CATALOG",
    "Send",
    "install",
    "installed",
]

#: Send one batch to its provider (kwargs: batch_id, connection).
SUBMIT_BATCH = "coursesync.submit_batch"
#: Start a run from a catalog URL, for upstreams in any language (args: connection, source_url).
SYNC_CATALOG = "coursesync.sync_catalog"
#: Start a run the HTTP API recorded in advance (kwargs: run_id); its source is in the record.
START_RUN = "coursesync.start_run"
#: Read a fan-out's catalog once for all its connections (kwargs: fanout_id).
START_FANOUT = "coursesync.start_fanout"
#: Diff and send one connection's run of a fan-out whose catalog is read (kwargs: fanout_id,
#: run_id).
FANOUT_PART = "coursesync.fanout_part"
#: Start a connection's scheduled resync (kwargs: connection, run_id).
SCHEDULED_SYNC = "coursesync.scheduled_sync"
#: Send a connection's waiting item changes as one run (kwargs: connection), or, without
#: kwargs (beat), find the connections whose changes have waited too long and flush them.
FLUSH_CHANGES = "coursesync.flush_changes"
#: POST a finished run's document to its webhook (kwargs: run_id).
NOTIFY_RUN = "coursesync.notify_run"
#: Prove a worker consumes (kwargs: token), for `coursesync health`.
PING = "coursesync.ping"
#: Beat's ticks: hand out batches, poll due jobs, fire schedules; check runs; forget old runs.
PUMP = "coursesync.pump"
POLL_JOBS = "coursesync.poll_jobs"
SCHEDULES = "coursesync.schedules"
DOCTOR = "coursesync.doctor"
CLEANUP = "coursesync.cleanup"

#: Housekeeping: beat's ticks and the health checks' pings, dozens a minute whether or not any
#: work goes on. They send no monitoring events, so Flower lists only the work ops come to read
#: about (a tick every 0.5 s would push a failed submit out of sight within the hour). Their
#: traces are in Redis instead: `coursesync health` and the metrics endpoint show them.
HOUSEKEEPING = frozenset({PUMP, POLL_JOBS, SCHEDULES, DOCTOR, CLEANUP, PING})

#: ``send(task name, kwargs, options)``: put one task on the broker. ``options`` are Celery's
#: ``send_task`` options (countdown, time limits).
Send = Callable[[str, dict[str, Any], dict[str, Any]], None]

_installed: list[Send] = []


def install(send: Send) -> None:
    """Make ``send`` the process's way to put tasks on the broker (the entry point does this)."""
    _installed[:] = [send]


def installed() -> Send:
    """The installed ``Send``; a clear error if the process never installed one."""
    if not _installed:
        raise RuntimeError(
            "no task sender is installed: import workers.celery_app at the entry point (a worker, "
            "beat and the coursesync command do), or hand in a send function"
        )
    return _installed[0]
