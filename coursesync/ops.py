"""`coursesync health` and `coursesync metrics`: the commands operators and compose run."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.doctor import DoctorReport

__all__ = ["add_commands", "doctor", "health", "metrics"]

#: `coursesync health` exit codes (compose healthchecks read 0 as healthy, anything else not).
EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1

_HEALTH_DESCRIPTION = """\
Prove the fleet works by having it work: send a tiny coursesync.ping task and wait for a
worker to run it. A worker that is alive and answers control commands but has stopped
consuming (a Celery stall after a Redis reconnect, a cancelled consumer) fails this check.
"""

_HEALTH_EPILOG = """\
examples:
  coursesync health                        some worker takes tasks from the shared queue
  coursesync health --worker worker@%h     this machine's worker does (docker-compose healthcheck)
  coursesync health --beat                 beat ticked within --max-idle-s
exit codes: 0 healthy; 1 not (the message says what was seen and what to do).
"""


_DOCTOR_DESCRIPTION = """\
Check the run ledger's invariants and repair what breaks them, as beat does every 30 s:
every pending batch of an open run is reachable (waiting in its connection's ready list,
deferred, or in flight with a lease), every submitted one is due for a status poll, a run
whose producer stopped showing signs of life is ended with that reason (what it never read is
not sent: sync again), and a run whose batches have all settled is ended.
"""

_DOCTOR_EPILOG = """\
exit codes: 0 nothing needed repair; 1 something was repaired, needs repair (--dry-run), or
            cannot be repaired (the report says what); 2 Redis cannot be reached.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    h = sub.add_parser(
        "health",
        help="exit 0 if workers consume tasks (or beat ticks), 1 if not",
        description=_HEALTH_DESCRIPTION,
        epilog=_HEALTH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    h.add_argument(
        "--worker",
        metavar="NAME",
        help="check this one worker (its node name, e.g. worker@host; %%h is this host's name, "
        "as in celery worker --hostname)",
    )
    h.add_argument("--beat", action="store_true", help="check beat instead: did it tick recently?")
    h.add_argument(
        "--timeout-s", type=float, default=10.0, metavar="S", help="wait this long for the ping (default 10)"
    )
    h.add_argument(
        "--max-idle-s",
        type=float,
        default=30.0,
        metavar="S",
        help="with --beat: the last tick may be this old (default 30)",
    )
    d = sub.add_parser(
        "doctor",
        help="prove every open run can end; put stranded batches back, end runs of dead producers",
        description=_DOCTOR_DESCRIPTION,
        epilog=_DOCTOR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("--dry-run", action="store_true", help="only report what needs repair; change nothing")
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    m = sub.add_parser(
        "metrics",
        help="serve Prometheus metrics for the whole fleet",
        description="Serve /metrics for Prometheus: items, requests, rate-limit waits, queues and "
        "jobs of every connection, read from Redis at each scrape (so one endpoint covers every "
        "worker on every machine). Basic auth from COURSESYNC_METRICS_AUTH=user:password; "
        "without it the endpoint serves 127.0.0.1 only.",
    )
    m.add_argument(
        "--host",
        metavar="ADDR",
        help="address to listen on (default 0.0.0.0 with COURSESYNC_METRICS_AUTH, else 127.0.0.1)",
    )
    m.add_argument("--port", type=int, default=None, metavar="PORT", help="port (default 9808)")


def health(args: argparse.Namespace) -> int:
    import redis
    from celery.utils.nodenames import host_format
    from kombu.exceptions import OperationalError

    from workers.celery_app import app
    from workers.health import check_beat, check_fleet, check_worker
    from workers.redis_client import get_redis

    r = get_redis()
    try:
        r.ping()  # first, and fast: Celery would retry a dead broker for a long while
        if args.beat:
            result = check_beat(r, max_idle_s=args.max_idle_s)
        elif args.worker:
            name = host_format(args.worker)  # %h, %n, %d exactly as `celery worker --hostname`
            result = check_worker(app, r, name, timeout_s=args.timeout_s)
        else:
            result = check_fleet(app, r, timeout_s=args.timeout_s)
    except (redis.RedisError, OperationalError, OSError) as exc:  # the edge: unhealthy, with the reason
        print(f"coursesync health: cannot reach Redis: {exc}", file=sys.stderr)
        return EXIT_UNHEALTHY
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return EXIT_HEALTHY if result.ok else EXIT_UNHEALTHY


def doctor(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    import redis

    from workers.config import get_settings
    from workers.doctor import examine
    from workers.redis_client import get_redis

    try:
        report = examine(get_redis(), get_settings(), repair=not args.dry_run)
    except redis.RedisError as exc:
        print(f"coursesync doctor: cannot reach Redis: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**asdict(report), "healthy": report.healthy}, indent=2))
    else:
        print(_doctor_text(report, dry_run=args.dry_run))
    return EXIT_HEALTHY if report.healthy else EXIT_UNHEALTHY


def _doctor_text(report: DoctorReport, *, dry_run: bool) -> str:
    if report.locked_out:
        return "another doctor pass is running (beat runs one every 30 s); try again in a minute"
    verb = "would be" if dry_run else "were"
    lines = [f"{report.open_runs} open runs, {report.batches_checked} batches checked"]
    for label, ids in (
        (f"stranded pending batches that {verb} put back in their ready list", report.requeued),
        (f"submitted batches that {verb} put back in the poll schedule", report.rescheduled),
        (f"runs of silent producers that {verb} ended", report.silent_runs_ended),
        ("settled runs that were ended", report.runs_finalized),
    ):
        if ids:
            lines.append(f"{len(ids)} {label}: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}")
    lines += [f"problem: {p}" for p in report.problems]
    if report.healthy:
        lines.append("healthy: every open run can end")
    return "\n".join(lines)


def metrics(args: argparse.Namespace) -> int:
    from workers.config import get_settings
    from workers.logs import setup_logging
    from workers.metrics.server import DEFAULT_PORT, make_metrics_server, parse_credentials
    from workers.redis_client import get_redis

    # A long-running server: its start line (address, auth or not) must show.
    os.environ.setdefault("COURSESYNC_LOG_LEVEL", "INFO")
    setup_logging()
    credentials = parse_credentials(get_settings().metrics_auth)
    port = args.port if args.port is not None else DEFAULT_PORT
    server = make_metrics_server(get_redis(), host=args.host, port=port, credentials=credentials)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
