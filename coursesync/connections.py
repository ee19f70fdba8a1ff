"""`coursesync connections`: the connections created at runtime, and seeding them from the file."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_command", "connections"]

_DESCRIPTION = """\
Connections come from two places: the TOML file (COURSESYNC_CONFIG) and the connection store in
Redis, where the HTTP API and `connections seed` put them. Workers see both, and a stored
connection wins over a file one of the same name. Every worker notices a change within
COURSESYNC_CONNECTIONS_REFRESH_S seconds (default 1).

Credentials (api_key, client_secret, webhook_secret, webhook_url...) given as plain text are
stored encrypted with COURSESYNC_SECRET_KEY (give every process the same value) and are never
shown; env:NAME and file:/path references are stored as written and read at use.
"""

_EPILOG = """\
examples:
  coursesync connections seed              copy the file's connections into the store
  coursesync connections seed --overwrite  ...replacing stored ones of the same name
  coursesync connections list              every connection, where it comes from
  coursesync connections show acme-kombo   one connection, credentials hidden
  coursesync connections delete acme-kombo remove a stored connection (the file's stays)
"""


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "connections",
        help="list, show, delete the stored connections, or seed them from the file",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    seed = actions.add_parser(
        "seed",
        help="copy the file's connections into the store",
        description="Copy every connection of the TOML file into the connection store. env:/file: "
        "references are kept as written (read at use, so rotating them needs no change here); "
        "literal credentials are encrypted with COURSESYNC_SECRET_KEY.",
    )
    seed.add_argument("--overwrite", action="store_true", help="replace stored connections of the same name")
    ls = actions.add_parser("list", help="every connection (file and store) and where it comes from")
    ls.add_argument("--json", action="store_true", help="print each connection's public view as JSON")
    show = actions.add_parser("show", help="one connection as JSON, credentials hidden")
    show.add_argument("name", help="connection name, e.g. acme-kombo")
    delete = actions.add_parser(
        "delete",
        help="remove a stored connection",
        description="Remove a connection from the store. A connection of the same name in the "
        "file is used again; the file itself is never changed.",
    )
    delete.add_argument("name", help="connection name, e.g. acme-kombo")


def connections(args: argparse.Namespace) -> int:
    from workers.config import get_settings
    from workers.connection_store import delete_connection, public_view, seed_from_file
    from workers.providers.registry import get_connection, get_connections
    from workers.redis_client import get_redis

    r: Any = get_redis()
    if args.action == "seed":
        written = seed_from_file(r, get_settings().config, overwrite=args.overwrite)
        print(f"seeded {len(written)} connection(s)" + (": " + ", ".join(written) if written else ""))
        return 0
    if args.action == "delete":
        if not delete_connection(r, args.name):
            print(f"coursesync: no stored connection {args.name!r}", flush=True)
            return 1
        print(f"deleted {args.name}")
        return 0
    if args.action == "show":
        print(json.dumps(public_view(get_connection(args.name)), indent=2))
        return 0
    found = get_connections()
    if args.json:
        print(json.dumps([public_view(c) for c in found.values()], indent=2))
        return 0
    for c in sorted(found.values(), key=lambda c: c.name):
        version = f"v{c.version}" if c.version is not None else ""
        print(f"{c.name:<32} {c.provider:<18} {c.source:<5} {version:<5} {c.base_url}")
    return 0
