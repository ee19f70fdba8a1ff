"""The ``coursesync`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from coursesync.fanouts import fanout_summary, is_fanout_spec, report_fanout
from coursesync.parser import build_parser
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


class CliError(Exception):
    """A problem the user must fix; printed without a traceback, exit code 2."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:
        os.environ["COURSESYNC_CONFIG"] = args.config
    if args.redis_url:
        os.environ["COURSESYNC_REDIS_URL"] = args.redis_url
    from coursesync import controls, ops
    from coursesync.connections import connections
    from coursesync.limits import limits
    from coursesync.serve_api import api, token

    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "sync": _sync, "retry": _retry, "status": _status, "item": _item, "runs": _runs, "sandbox": _sandbox,
        "demo": _demo, "health": ops.health, "metrics": ops.metrics, "doctor": ops.doctor, "limits": limits,
        "api": api, "token": token,
        "cancel": lambda a: controls.cancel(a, _redis()), "pause": lambda a: controls.pause(a, _redis()),
        "resume": lambda a: controls.resume(a, _redis()),
        "connections": connections,
    }  # fmt: skip
    from workers.errors import CatalogError, ConfigError, ConflictError

    try:
        return commands[args.command](args)
    except (CliError, ConfigError, CatalogError, ConflictError) as exc:
        print(f"coursesync: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("coursesync: interrupted", file=sys.stderr)
        return 130


def _redis() -> Any:
    from workers.config import get_settings
    from workers.logs import setup_logging
    from workers.redact import redact_url
    from workers.redis_client import check_no_eviction, get_redis

    os.environ.setdefault("COURSESYNC_LOG_LEVEL", "WARNING")
    setup_logging()
    r = get_redis()
    try:
        r.ping()
    except Exception as exc:  # redis.ConnectionError and friends; the message says it all
        url = redact_url(get_settings().redis_url)  # it may carry the Redis password
        raise CliError(
            f"cannot reach Redis at {url} ({exc}); start Redis or set COURSESYNC_REDIS_URL"
        ) from None
    check_no_eviction(r)
    return r


def _sender() -> Any:
    """How this process puts tasks on the broker: through the Celery app (an entry point)."""
    from workers.celery_app import send

    return send


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
        priority=args.priority,
    )
    if is_fanout_spec(args.connection):
        if args.dry_run:
            raise CliError("--dry-run takes one connection; name one instead of a list, glob or group")
        from producers.fanout import start_fanout

        fanout_id = start_fanout(args.connection, args.path, options, r=r, send=_sender())
        return report_fanout(r, fanout_id, wait=args.wait, as_json=args.json, timeout_s=args.timeout)
    if args.dry_run:
        return _dry_run(args, options)
    run_id = start_run(args.connection, args.path, options, r=r, send=_sender())
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
    from producers.run_starts import start_retry_run

    r = _redis()
    return _report_started(r, start_retry_run(args.run_id, r=r, send=_sender()), args)


def _report_started(r: Any, run_id: str, args: argparse.Namespace) -> int:
    if not (args.wait or args.json):
        print(run_id)
        from workers.ledger import run_document

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
    from workers.ledger import FINAL_STATES, run_document

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


def _fanout_status(r: Any, args: argparse.Namespace) -> int:
    from workers.ledger import fanout_document

    doc = fanout_document(r, args.run_id)
    if doc is None:
        raise CliError(f"no fan-out {args.run_id!r} (kept for 30 days)")
    print(json.dumps(doc, indent=2) if args.json else fanout_summary(doc))
    return EXIT_OK if doc["state"] == "completed" else EXIT_ITEMS


def _status(args: argparse.Namespace) -> int:
    from workers.ledger import item_errors, run_document

    r = _redis()
    if args.run_id.startswith("f_"):
        return _fanout_status(r, args)
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
    # A cancelled run did not do all it was asked to (product.md: exit 1).
    return EXIT_ITEMS if doc["state"] == "cancelled" else EXIT_OK


def _item(args: argparse.Namespace) -> int:
    from workers.ledger import item_status
    from workers.providers.registry import get_connection

    r = _redis()
    name = get_connection(args.connection).name  # an unknown connection is a usage error
    status = item_status(r, name, args.item_id)
    if status is None:
        print(f"coursesync: nothing known of item {args.item_id!r} at {name!r}", file=sys.stderr)
        return EXIT_ITEMS
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    for key in ("item_id", "connection", "state", "op", "at", "run_id", "remote_id", "code", "message"):
        if status.get(key) is not None:
            print(f"{key + ':':<11}{status[key]}")
    return EXIT_OK


def _runs(args: argparse.Namespace) -> int:
    from workers.ledger import list_runs

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
    ok = run_demo(items=args.items, keep=args.keep, providers=providers, serve=args.serve)
    return EXIT_OK if ok else EXIT_ITEMS


if __name__ == "__main__":
    sys.exit(main())
