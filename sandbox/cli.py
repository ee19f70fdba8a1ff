"""Command line of the sandbox: ``python -m sandbox`` and ``coursesync sandbox``.

The flags are derived from :class:`SandboxSettings` (one flag per field, its help from the
field's metadata), so a new setting is a new flag without touching this module.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import types
from dataclasses import fields
from typing import Any, get_type_hints

from sandbox.server import SandboxServer
from sandbox.settings import CHOICES, SandboxSettings

__all__ = ["add_arguments", "main", "run_from_args", "settings_from_args"]

DESCRIPTION = """\
Serve fake provider APIs on this machine, for coursesync's demo, integration tests and
benchmarks. Each provider lives under its own prefix, which is the base_url of a coursesync
connection: http://HOST:PORT/kombo/v1 (API key "sandbox-kombo-key", integration id
"sandbox:coursesync-demo"), /stackone (key "sandbox-stackone-key", account "sandbox-account"),
/360learning (client "sandbox-360-client" / "sandbox-360-secret") and /thoughtindustries (key
"ti_test_sandbox"). `coursesync demo` writes a working connections file for all four.
Steer a running sandbox over HTTP:
GET /_sandbox/stats, GET /_sandbox/requests?since=EPOCH_S[&paths=1], GET /_sandbox/limits[?since=
EPOCH_S] (what each rate limit let through), POST /_sandbox/config (JSON object of settings
below, with underscores), POST /_sandbox/reset.
"""

EPILOG = """\
examples:
  python -m sandbox                                   # all four on http://127.0.0.1:8765
  python -m sandbox --port 0 --kombo-pending-s 0.2    # any free port, fast tasks
  python -m sandbox --kombo-rate-per-s 20 --latency-s 0.05 --fail-rate-5xx 0.01 --seed 7
  python -m sandbox --limiter sliding_window --stackone-windows 20/1 1000/60 5000/3600
  python -m sandbox --kombo-task-fail-rate 0.2 --kombo-task-fail-code INTEGRATION.INACTIVE
  python -m sandbox --ti-invalid-rows-shape row_number   # how a client copes with another shape
  python -m sandbox --mutate-rate 0.3 --seed 11          # fuzz clients with broken 2xx answers
  curl -s -X POST localhost:8765/_sandbox/config -d '{"down_until_epoch_s": 1900000000}'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--host``, ``--port`` and one flag per :class:`SandboxSettings` field to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default: %(default)s)"
    )
    group = parser.add_argument_group("behaviour (each can also be changed later: POST /_sandbox/config)")
    defaults = SandboxSettings()
    hints = get_type_hints(SandboxSettings)
    for f in fields(SandboxSettings):
        default = getattr(defaults, f.name)
        help_text = f.metadata["help"].replace("%", "%%")  # argparse formats help strings
        if "default" not in help_text:
            shown = " ".join(default) if isinstance(default, tuple) else default
            help_text += f" (default: {'none' if shown is None else shown})"
        flag = "--" + f.name.replace("_", "-")
        kind = _scalar_type(hints[f.name])
        if f.name in CHOICES:
            group.add_argument(flag, choices=CHOICES[f.name], help=help_text)
        elif kind is None:
            group.add_argument(
                flag, nargs="+", metavar=f.name.rsplit("_", 1)[-1].upper()[:-1], help=help_text
            )
        else:
            group.add_argument(flag, type=kind, metavar=_metavar(f.name), help=help_text)


def _metavar(name: str) -> str:
    if name.endswith("_epoch_s"):
        return "EPOCH_S"
    if name.endswith("_s") and not name.endswith("_per_s"):
        return "SECONDS"
    if name.startswith("fail_rate_") or name.endswith("_rate"):
        return "SHARE"
    return "TEXT" if name.endswith(("_marker", "_code")) else "N"


def _scalar_type(hint: Any) -> type[int] | type[float] | type[str] | None:
    """int, float or str for scalar settings (optional or not); None for lists of strings."""
    options = set(hint.__args__) if isinstance(hint, types.UnionType) else {hint}
    for kind in (float, int, str):
        if kind in options:
            return kind
    return None


def settings_from_args(ns: argparse.Namespace) -> SandboxSettings:
    """The settings named on the command line, defaults for the rest.

    Raises:
        ValueError: a value out of range, e.g. ``--fail-rate-5xx 2``.
    """
    settings = SandboxSettings()
    given = {f.name: getattr(ns, f.name, None) for f in fields(settings)}
    settings.update({name: value for name, value in given.items() if value is not None})
    return settings


def run_from_args(ns: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; prints ``sandbox listening on URL`` once it accepts."""
    try:
        settings = settings_from_args(ns)
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    server = SandboxServer(settings, host=ns.host, port=ns.port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    print(f"sandbox listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
            pass
    finally:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sandbox [flags]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
