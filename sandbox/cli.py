"""Command line of the sandbox: ``python -m sandbox`` and ``coursesync sandbox``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from dataclasses import fields
from typing import Any

from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

__all__ = ["add_arguments", "main", "run_from_args", "settings_from_args"]

_HELP = {
    "seed": "seed for injected faults, to replay a run",
    "kombo_api_keys": "API keys Kombo accepts (repeatable; default sandbox-kombo-key)",
    "kombo_integrations": "integration ids Kombo knows (repeatable; default sandbox:coursesync-demo)",
    "kombo_pending_s": "seconds a Kombo bulk task stays PENDING (default 1.0)",
    "kombo_max_items": "most items one Kombo bulk request may carry (default 1000)",
    "kombo_rate_per_s": "Kombo requests per second per API key before 429 (default: unlimited)",
    "kombo_rate_burst": "Kombo token-bucket size (default: one second of rate)",
    "kombo_concurrency_limit": "Kombo POSTs in flight per integration before 429 (default 30)",
    "max_body_bytes": "largest request body accepted (default 10 MB)",
    "latency_s": "seconds added to every provider request",
    "fail_rate_5xx": "share of provider requests answered 503 (0..1)",
    "fail_rate_429": "share of provider requests answered 429 (0..1)",
    "timeout_rate": "share of requests processed but answered only after --timeout-sleep-s",
    "timeout_sleep_s": "how long a 'timed out' answer is held back (default 35)",
    "down_until_epoch_s": "answer 503 to every provider request until this Unix time",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 = any)")
    defaults = SandboxSettings()
    for f in fields(SandboxSettings):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, tuple):
            parser.add_argument(flag, action="append", help=_HELP[f.name])
        else:
            kind: Any = (
                int
                if f.name
                in (
                    "seed",
                    "kombo_max_items",
                    "kombo_rate_burst",
                    "kombo_concurrency_limit",
                    "max_body_bytes",
                )
                else float
            )
            parser.add_argument(flag, type=kind, help=_HELP[f.name])


def settings_from_args(ns: argparse.Namespace) -> SandboxSettings:
    settings = SandboxSettings()
    changes = {
        f.name: getattr(ns, f.name) for f in fields(SandboxSettings) if getattr(ns, f.name, None) is not None
    }
    settings.update(changes)
    return settings


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM (from the demo, compose, a test) stops the server like Ctrl-C does.
    raise KeyboardInterrupt


def run_from_args(ns: argparse.Namespace) -> int:
    server = SandboxServer(settings_from_args(ns), host=ns.host, port=ns.port)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"sandbox listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Fake provider bulk APIs on loopback, for coursesync's demo, tests and benchmarks. "
        "Kombo lives under /kombo/v1; /_sandbox/stats, /_sandbox/config and /_sandbox/reset steer it.",
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
