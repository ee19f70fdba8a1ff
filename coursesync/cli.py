"""The ``coursesync`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from coursesync.report import (
    EXIT_ITEMS,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    dry_run_summary,
    exit_code,
    progress_line,
    summary,
)

__all__ = ["main"]

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


class CliError(Exception):
    """A problem the user must fix; printed without a traceback, exit code 2."""


def _parser() -> argparse.ArgumentParser:
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
    s.add_argument("connection", help="connection name from the config file, e.g. acme-kombo")
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

    st = sub.add_parser("status", help="show a run", description="Show the run document of RUN_ID.")
    st.add_argument("run_id")
    st.add_argument("--json", action="store_true", help="print the run document as JSON")
    st.add_argument(
        "--items",
        choices=["failed", "invalid", "errors"],
        help="list every failed (provider) or invalid (validation) item with its reasons, or both",
    )

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
        "--keep",
        action="store_true",
        help="keep the demo's working directory (logs, config, catalog)",
    )
    d.add_argument(
        "--provider",
        choices=["all", "kombo", "stackone", "360learning", "thoughtindustries"],
        default="all",
        help="sync to one provider only (default: all four at once)",
    )
    from coursesync.ops import add_commands

    add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.config:
        os.environ["COURSESYNC_CONFIG"] = args.config
    if args.redis_url:
        os.environ["COURSESYNC_REDIS_URL"] = args.redis_url
    from coursesync import ops

    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "sync": _sync, "retry": _retry, "status": _status, "runs": _runs, "sandbox": _sandbox, "demo": _demo,
        "health": ops.health, "metrics": ops.metrics,
    }  # fmt: skip
    from workers.errors import CatalogError, ConfigError

    try:
        return commands[args.command](args)
    except (CliError, ConfigError, CatalogError) as exc:
        print(f"coursesync: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("coursesync: interrupted", file=sys.stderr)
        return 130


def _redis() -> Any:
    from workers.config import get_settings
    from workers.logs import setup_logging
    from workers.redis_client import get_redis

    os.environ.setdefault("COURSESYNC_LOG_LEVEL", "WARNING")
    setup_logging()
    r = get_redis()
    try:
        r.ping()
    except Exception as exc:  # redis.ConnectionError and friends; the message says it all
        url = get_settings().redis_url
        raise CliError(
            f"cannot reach Redis at {url} ({exc}); start Redis or set COURSESYNC_REDIS_URL"
        ) from None
    return r


def _sync(args: argparse.Namespace) -> int:
    from producers.sync import SyncOptions, start_run

    r = _redis()
    options = SyncOptions(
        full=args.full,
        prune=args.prune or args.force_prune,
        force_prune=args.force_prune,
        fmt=args.format,
        trigger="cli",
        webhook_url=args.webhook,
    )
    if args.dry_run:
        return _dry_run(args, options)
    run_id = start_run(args.connection, args.path, options, r=r)
    return _report_started(r, run_id, args)


def _dry_run(args: argparse.Namespace, options: Any) -> int:
    from producers.sync import dry_run

    report = dry_run(args.connection, args.path, options)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(dry_run_summary(report))
    return EXIT_ITEMS if report["rejected"] or report.get("fatal") or report.get("prune_refused") else EXIT_OK


def _retry(args: argparse.Namespace) -> int:
    from producers.sync import start_retry_run

    r = _redis()
    return _report_started(r, start_retry_run(args.run_id, r=r), args)


def _report_started(r: Any, run_id: str, args: argparse.Namespace) -> int:
    if not (args.wait or args.json):
        print(run_id)
        from workers.store.runs import run_document

        # A catalog that cannot be read (empty, no header, unreadable...) ends the run at once.
        doc = run_document(r, run_id)
        if doc is not None and doc.get("reason"):
            print(f"coursesync: run {run_id} failed: {doc['reason']}", file=sys.stderr)
            return EXIT_ITEMS
        return EXIT_OK
    print(run_id, file=sys.stderr if args.json else sys.stdout, flush=True)
    return wait_and_report(r, run_id, as_json=args.json, timeout_s=args.timeout)


def wait_and_report(r: Any, run_id: str, *, as_json: bool, timeout_s: float | None) -> int:
    """Show progress until the run ends (or ``timeout_s`` passes), then the outcome."""
    from workers.store.runs import FINAL_STATES, run_document

    deadline = time.monotonic() + timeout_s if timeout_s else None
    tty = sys.stderr.isatty()
    last = ""
    while True:
        doc = run_document(r, run_id)
        if doc is None:
            raise CliError(f"run {run_id} disappeared from Redis")
        line = progress_line(doc)
        if tty:
            print("\r" + line + "\x1b[K", end="", file=sys.stderr, flush=True)
        elif line != last:
            print(line, file=sys.stderr, flush=True)
        last = line
        if doc["state"] in FINAL_STATES:
            break
        if deadline is not None and time.monotonic() > deadline:
            if tty:
                print(file=sys.stderr)
            print(
                f"coursesync: --timeout passed; run {run_id} is still {doc['state']}",
                file=sys.stderr,
            )
            if as_json:
                print(json.dumps(doc, indent=2))
            return EXIT_TIMEOUT
        time.sleep(0.5)
    if tty:
        print(file=sys.stderr)
    print(json.dumps(doc, indent=2) if as_json else summary(doc))
    return exit_code(doc)


def _status(args: argparse.Namespace) -> int:
    from workers.store.items import item_errors
    from workers.store.runs import run_document

    r = _redis()
    doc = run_document(r, args.run_id)
    if doc is None:
        raise CliError(f"no run {args.run_id!r} (runs are kept for 30 days; see `coursesync runs`)")
    if args.items:
        stages = {
            "failed": {"provider"},
            "invalid": {"validation"},
            "errors": {"provider", "validation"},
        }[args.items]
        rows = [e for e in item_errors(r, args.run_id) if e["stage"] in stages]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for e in rows:
                print(f"{e['item_id']}\t{e['stage']}\t{e['code']}\t{e['message']}")
            print(f"{len(rows)} item error(s)", file=sys.stderr)
        return EXIT_OK
    print(json.dumps(doc, indent=2) if args.json else summary(doc))
    return EXIT_OK


def _runs(args: argparse.Namespace) -> int:
    from workers.store.runs import list_runs

    docs = list_runs(_redis(), limit=args.limit)
    if args.json:
        print(json.dumps(docs, indent=2))
        return EXIT_OK
    if not docs:
        print("no runs yet; start one with `coursesync sync CONNECTION CATALOG`")
    for d in docs:
        c = d["counts"]
        print(
            f"{d['run_id']}  {d['connection']:<20} {d['state']:<22} total {c['total']:>8,}  "
            f"ok {c['succeeded']:>8,}  failed {c['failed']:>6,}  invalid {c['invalid']:>6,}  "
            f"{d['created_at']}"
        )
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import run_from_args

    return run_from_args(args)


def _demo(args: argparse.Namespace) -> int:
    from coursesync.demo import run_demo

    providers = None if args.provider == "all" else [args.provider]
    ok = run_demo(items=args.items, keep=args.keep, providers=providers)
    return EXIT_OK if ok else EXIT_ITEMS


if __name__ == "__main__":
    sys.exit(main())
