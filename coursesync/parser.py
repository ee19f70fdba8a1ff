"""The ``coursesync`` command line: every command, option and help text."""

from __future__ import annotations

import argparse

from schemas.providers import provider_names

__all__ = ["build_parser"]

_DESCRIPTION = """\
coursesync pushes course catalogs into LMSs through provider bulk APIs (Kombo, StackOne,
360Learning, Thought Industries). Producers read and validate a catalog and enqueue batches;
Celery workers (`celery -A workers worker`, `celery -A workers beat`) send them and track the
remote jobs. Connections are configured in a TOML file (see coursesync.example.toml).

Try it with no set-up at all:  coursesync demo
"""

_EPILOG = """\
exit codes: 0 every item ended well; 1 the run ended with failed or invalid items, or failed;
            2 usage or configuration error; 3 --timeout passed before the run ended.
environment: COURSESYNC_CONFIG (default ./coursesync.toml), COURSESYNC_REDIS_URL
            (default redis://localhost:6379/0), COURSESYNC_LOG_JSON=1 for JSON logs.
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``coursesync``; help texts are written for someone new to the tool."""
    p = argparse.ArgumentParser(
        prog="coursesync",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="PATH", help="connections file (overrides COURSESYNC_CONFIG)")
    p.add_argument("--redis-url", metavar="URL", help="Redis URL (overrides COURSESYNC_REDIS_URL)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "sync",
        help="read a catalog and start a run",
        description="Read a catalog, validate it, "
        "record a run and enqueue its batches; prints the run id. Workers must be running.",
    )
    s.add_argument(
        "connection",
        help="connection name from the config file, e.g. acme-kombo; or several, to read the "
        "catalog once for all of them (a fan-out: one run each, tied by a fan-out id): a list "
        "a,b,c, a glob 'acme-*' or a group @customers from the config's [groups]",
    )
    s.add_argument(
        "path", help="catalog: a .jsonl/.ndjson/.json/.csv file (optionally .gz) or an http(s) URL"
    )
    s.add_argument("--wait", action="store_true", help="show progress until the run ends")
    s.add_argument(
        "--json", action="store_true", help="print the final run document as JSON (implies --wait)"
    )
    s.add_argument(
        "--full",
        action="store_true",
        help="send every item, even those unchanged since the last sync",
    )
    s.add_argument(
        "--priority",
        choices=["normal", "low"],
        default=None,
        help="normal (default) goes before scheduled resyncs on the same provider budget; low "
        "waits behind normal runs, as scheduled resyncs do, and still gets a share",
    )
    s.add_argument(
        "--prune",
        action="store_true",
        help="deactivate items the previous full catalog had and this one lacks (mirror mode)",
    )
    s.add_argument(
        "--force-prune",
        action="store_true",
        help="with --prune: deactivate even more than the guard allows (default 10%% of the catalog)",
    )
    s.add_argument(
        "--dry-run",
        action="store_true",
        help="validate, map and compare only: report what would be created, updated, unchanged, "
        "pruned and rejected, and send nothing",
    )
    s.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="with --wait: give up waiting after S seconds (exit 3)",
    )
    s.add_argument(
        "--format",
        choices=["jsonl", "json", "csv"],
        help="catalog format when the extension does not say",
    )
    s.add_argument("--webhook", metavar="URL", help="POST the final run document to URL (signed; see README)")

    st = sub.add_parser(
        "status",
        help="show a run or a fan-out",
        description="Show the run document of RUN_ID, or, for a fan-out id (f_...), each of its "
        "runs and their counts summed.",
    )
    st.add_argument("run_id", help="a run id (r_...) or a fan-out id (f_...)")
    st.add_argument("--json", action="store_true", help="print the run document as JSON")
    st.add_argument(
        "--items",
        choices=["failed", "invalid", "errors"],
        help="list every failed (provider) or invalid (validation) item with its reasons, or both",
    )

    it = sub.add_parser(
        "item",
        help="show what coursesync last knew of one item at one connection",
        description="Show the status of one item at one connection: queued (a change waits to "
        "be sent), invalid, unchanged, succeeded or failed, with when, the run it belongs to, "
        "the provider's own id for it and the reason of a failure. Statuses are kept as long "
        "as runs (30 days after the item was last written).",
        epilog="example: coursesync item acme-kombo course-42 --json",
    )
    it.add_argument("connection", help="connection name from the config file, e.g. acme-kombo")
    it.add_argument("item_id", help="the item's id, as upstream gave it (the catalog's `id`)")
    it.add_argument("--json", action="store_true", help="print the status as a JSON object")

    rt = sub.add_parser(
        "retry",
        help="start a new run of the items that failed at the provider",
        description="Start a new run that sends again, unchanged, every item of RUN_ID that "
        "failed at the provider. Invalid items are not retried: fix them in the catalog.",
    )
    rt.add_argument("run_id")
    rt.add_argument("--wait", action="store_true", help="show progress until the new run ends")
    rt.add_argument(
        "--json", action="store_true", help="print the final run document as JSON (implies --wait)"
    )
    rt.add_argument(
        "--timeout", type=float, metavar="S", help="with --wait: give up waiting after S seconds (exit 3)"
    )

    from coursesync.limits import add_command as add_limits

    add_limits(sub)
    from coursesync.connections import add_command as add_connections

    add_connections(sub)

    r = sub.add_parser("runs", help="list recent runs, newest first")
    r.add_argument("--json", action="store_true")
    r.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")

    sb = sub.add_parser(
        "sandbox",
        help="serve the local sandbox of the provider APIs",
        description="Serve fake provider APIs on loopback for demos, tests and benchmarks.",
    )
    from sandbox.cli import add_arguments

    add_arguments(sb)

    d = sub.add_parser(
        "demo",
        help="run the whole pipeline locally against the sandbox, no set-up needed",
        description="Start Redis (unless COURSESYNC_REDIS_URL answers), the sandbox of the four "
        "provider APIs, a worker and beat; sync a generated sample catalog (with invalid items and "
        "items the sandbox's LMS refuses) to every provider; check each outcome; stop everything.",
    )
    d.add_argument("--items", type=int, default=3000, help="size of the sample catalog (default 3000)")
    d.add_argument(
        "--serve",
        action="store_true",
        help="after the demo, keep the API, sandbox, worker and beat running (Ctrl-C stops them) "
        "to try the API by hand with the printed token",
    )
    d.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo's working directory (logs, config, catalog)",
    )
    d.add_argument(
        "--provider",
        choices=["all", *provider_names()],
        default="all",
        help="sync to one provider only (default: all at once)",
    )
    _add_more(sub)
    return p


def _add_more(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that live with their own code (operations, the API, run and connection controls)."""
    from coursesync import controls, ops, serve_api

    for module in (ops, serve_api, controls):
        module.add_commands(sub)
