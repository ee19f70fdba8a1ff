"""`coursesync cancel`, `coursesync pause` and `coursesync resume` (``workers.control``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_commands", "cancel", "pause", "resume"]

_CANCEL_DESCRIPTION = """\
Stop a run. No batch of it is sent from now on: its producer stops reading the catalog, and
every batch still waiting (queued, waiting for a retry or for the provider's rate limit) fails
with code coursesync.CANCELLED without being sent. Batches the provider already has (a remote
job running, or a request on its way) are tracked to their end, and their items get their real
outcome. The run then ends in state `cancelled`. Cancelling a finished run changes nothing.
"""

_CANCEL_EPILOG = """\
examples:
  coursesync cancel r_20260101T120000_ab12cd         stop the run
  coursesync cancel r_20260101T120000_ab12cd --json  print the run document afterwards
  coursesync status r_20260101T120000_ab12cd         watch the batches at the provider finish
  coursesync retry r_20260101T120000_ab12cd          later: send what the cancel did not
exit codes: 0 the cancel is recorded (or the run had already ended); 2 no such run.
"""

_PAUSE_DESCRIPTION = """\
Stop sending anything for a connection until `coursesync resume`: its batches wait in their
queue (workers put back any they were about to send), remote jobs already running are still
followed to their end, and its unfinished runs show state `paused`. Useful while the customer's
LMS is in maintenance or a provider asks you to slow down.
"""

_PAUSE_EPILOG = """\
examples:
  coursesync pause acme-kombo       nothing more is sent for acme-kombo
  coursesync runs                   its open runs show `paused`
  coursesync resume acme-kombo      sending starts again within a beat tick
exit codes: 0 done; 2 unknown connection.
"""

_RESUME_DESCRIPTION = """\
Let a paused connection send again: beat's next tick hands its waiting batches to the workers,
and its runs show their own state again. Resuming a connection that is not paused is harmless.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser(
        "cancel",
        help="stop a run: nothing more of it is sent",
        description=_CANCEL_DESCRIPTION,
        epilog=_CANCEL_EPILOG,
        formatter_class=raw,
    )
    c.add_argument("run_id", help="the run id printed by `coursesync sync` (see `coursesync runs`)")
    c.add_argument("--json", action="store_true", help="print the run document as JSON")
    p = sub.add_parser(
        "pause",
        help="send nothing for a connection until it is resumed",
        description=_PAUSE_DESCRIPTION,
        epilog=_PAUSE_EPILOG,
        formatter_class=raw,
    )
    p.add_argument("connection", help="connection name from the config file, e.g. acme-kombo")
    r = sub.add_parser(
        "resume",
        help="let a paused connection send again",
        description=_RESUME_DESCRIPTION,
        epilog=_PAUSE_EPILOG,
        formatter_class=raw,
    )
    r.add_argument("connection", help="connection name from the config file, e.g. acme-kombo")


def cancel(args: argparse.Namespace, r: Any) -> int:
    from workers.config import get_settings
    from workers.control import cancel_run
    from workers.errors import ConfigError

    doc = cancel_run(r, args.run_id, get_settings())
    if doc is None:
        raise ConfigError(f"no run {args.run_id!r} (runs are kept for 30 days; see `coursesync runs`)")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(cancel_text(doc))
    return 0


def cancel_text(doc: dict[str, Any]) -> str:
    """What a cancel did, in one or two lines."""
    run_id, what = doc["run_id"], doc.get("cancel")
    if what is None:
        return f"run {run_id} had already ended ({doc['state']}); nothing to cancel"
    n, items, live = what["not_sent"], what["not_sent_items"], what["in_flight"]
    text = (
        f"cancel requested for {run_id}: {n} pending batch{'es' if n != 1 else ''} "
        f"({items:,} items) will not be sent"
    )
    if live:
        text += f"; {live} batch{'es' if live != 1 else ''} already at the provider tracked to its end"
    if doc["state"] == "cancelled":
        text += f"\nrun {run_id} ended: cancelled"
    else:
        text += f"\nthe run ends `cancelled` once those finish: coursesync status {run_id}"
    return text


def pause(args: argparse.Namespace, r: Any) -> int:
    from workers.control import pause_connection

    pause_connection(r, args.connection)
    name = args.connection
    print(f"{name} paused: nothing more is sent for it until `coursesync resume {name}`")
    return 0


def resume(args: argparse.Namespace, r: Any) -> int:
    from workers.control import resume_connection

    resume_connection(r, args.connection)
    print(f"{args.connection} resumed: its waiting batches go out at the next beat tick")
    return 0
