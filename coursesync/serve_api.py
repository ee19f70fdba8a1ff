"""`coursesync api` (serve the HTTP API with gunicorn) and `coursesync token` (manage its tokens)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_commands", "api", "token"]

_API_DESCRIPTION = """\
Serve coursesync's HTTP API (/v1: runs, item changes, connections, pause, tokens) with gunicorn,
a production WSGI server. Every request needs an API token (create one with `coursesync token
create`). The OpenAPI document is at /v1/openapi.json.
"""

_API_EPILOG = """\
examples:
  coursesync api                               listen on 127.0.0.1:8000
  coursesync api --host 0.0.0.0 --port 8080    listen on every interface (put TLS in front)
environment: COURSESYNC_REDIS_URL, COURSESYNC_CONFIG, COURSESYNC_SECRET_KEY (as the workers),
             COURSESYNC_CATALOG_DIR (uploads; a directory the workers read too)
"""

_CREDENTIALS_EPILOG = """\
examples:
  coursesync token create ops --scope admin                         every connection, every action
  coursesync token create acme-cms --scope write --connection 'acme-*'   start runs for acme-* only
  coursesync token list
  coursesync token revoke 3f2a9c1d0b4e
scopes nest: admin (tokens, connections) > write (runs, cancel, retry, items, pause) > read.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser(
        "api",
        help="serve the HTTP API (and its OpenAPI document) with gunicorn",
        description=_API_DESCRIPTION,
        epilog=_API_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    a.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    a.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    a.add_argument("--threads", type=int, default=8, help="threads per worker (default 8): uploads stream")
    t = sub.add_parser(
        "token",
        help="create, list or revoke API tokens",
        epilog=_CREDENTIALS_EPILOG,
        description="API tokens: stored hashed; each has scopes and the connections "
        "it may touch (a run or connection outside them answers 404).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = t.add_subparsers(dest="action", required=True, metavar="create|list|revoke")
    c = tsub.add_parser("create", help="create a token and print it (shown only once)")
    c.add_argument("name", help="who or what uses it, e.g. acme-cms")
    c.add_argument(
        "--scope",
        action="append",
        choices=["read", "write", "admin"],
        required=True,
        help="read, write or admin (repeatable)",
    )
    c.add_argument(
        "--connection",
        action="append",
        default=None,
        metavar="NAME_OR_GLOB",
        help="a connection it may touch (repeatable; default '*': every one)",
    )
    c.add_argument("--json", action="store_true")
    ls = tsub.add_parser("list", help="list tokens (never their values)")
    ls.add_argument("--json", action="store_true")
    rv = tsub.add_parser("revoke", help="revoke a token by its id")
    rv.add_argument("token_id")


def api(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    import workers.celery_app  # noqa: F401  (installs the task sender the API enqueues with)
    from api import create_app
    from workers import ports
    from workers.config import get_settings
    from workers.redis_client import get_redis

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("worker_class", "gthread")
            # Uploads of a gigabyte stream for minutes; gthread workers stay responsive meanwhile.
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")
            # No query strings in the access log: a cursor is harmless, but keep the habit.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')

        def load(self) -> Any:
            return create_app(get_redis(), get_settings(), ports.installed())

    print(f"coursesync API on http://{args.host}:{args.port}/v1 (OpenAPI: /v1/openapi.json)", file=sys.stderr)
    _Server().run()
    return 0


def token(args: argparse.Namespace) -> int:
    from api import tokens
    from workers.redis_client import get_redis

    r = get_redis()
    if args.action == "create":
        value, record = tokens.create_token(
            r, name=args.name, scopes=args.scope, connections=args.connection or ["*"]
        )
        if args.json:
            print(json.dumps({**record, "token": value}))
        else:
            print(value)
            print(
                f"(token {record['id']} '{record['name']}': {', '.join(record['scopes'])} on "
                f"{', '.join(record['connections'])}; shown only now)",
                file=sys.stderr,
            )
        return 0
    if args.action == "list":
        found = tokens.list_tokens(r)
        if args.json:
            print(json.dumps(found, indent=2))
        for rec in [] if args.json else found:
            print(
                f"{rec['id']}  {rec['name']:<20} {','.join(rec['scopes']):<18} {','.join(rec['connections'])}"
            )
        return 0
    if not tokens.revoke_token(r, args.token_id):
        print(f"coursesync: error: no token {args.token_id!r}", file=sys.stderr)
        return 2
    print(f"token {args.token_id} revoked")
    return 0
