"""`coursesync limits`: every provider budget, its limits, its use and who waits on it."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_command", "limits"]

_DESCRIPTION = """\
Show each provider budget the configured connections spend: the unit the provider counts (an
API key or a company, named by a digest, never the key), its limits (configured, or the
provider's documented ones) and what the provider said (a pause after a 429, a concurrency
limit), the requests granted over the last minute, and the connections waiting on it with
their fair shares. Connections on one key share one budget; a connection's own cap
(max_requests_per_minute) is shown beside it.
"""

_SPARK = " ▁▂▃▄▅▆▇█"


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "limits",
        help="show each provider budget: limits, use, waiting connections and their shares",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("connection", nargs="?", help="only the budgets this connection spends")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")


def limits(args: argparse.Namespace) -> int:
    from workers.providers.registry import get_connection, get_connections
    from workers.ratelimit.budgets import budget_id
    from workers.ratelimit.report import as_json, report
    from workers.redis_client import get_redis

    connections = list(get_connections().values())
    if args.connection:
        wanted = budget_id(get_connection(args.connection))  # a ConfigError names an unknown one
        connections = [c for c in connections if budget_id(c) == wanted]
    found = report(get_redis(), connections)
    if args.json:
        print(json.dumps([as_json(b) for b in found], indent=2))
        return 0
    for budget in found:
        print(_text(budget))
    return 0


def _spark(values: list[int]) -> str:
    top = max(values) or 1
    return "".join(_SPARK[round(v / top * (len(_SPARK) - 1))] for v in values)


def _text(budget: Any) -> str:
    limit = " + ".join(str(w) for w in budget.windows)
    lines = [f"{budget.id} ({budget.bucket}): limit {limit}"]
    per_minute = min(w.per_s for w in budget.windows) * 60
    lines.append(
        f"  used {budget.used_last_minute:,} requests in the last minute"
        f" ({budget.used_last_minute / per_minute:.0%} of {per_minute:,.0f}/min)"
        f"   last 10 min {_spark(budget.use_per_10s)}"
    )
    if budget.paused_s > 0:
        lines.append(
            f"  paused {budget.paused_s:.1f} s more: {budget.pause_reason or 'the provider said stop'}"
        )
    if budget.job_slots is not None:
        lines.append(f"  job slots held {budget.job_slots[0]} of {budget.job_slots[1]}")
    lines.append(f"  {budget.waiting_connections} of {len(budget.members)} connection(s) waiting")
    for m in budget.members:
        extras = [f"weight {m.weight:g}"]
        if m.own_cap:
            extras.append("own cap " + " + ".join(str(w) for w in m.own_cap))
        if m.learned_cap:
            extras.append(f"provider's concurrency limit {m.learned_cap}")
        waiting = f"{m.waiting} batches waiting" + (f" ({m.waiting_low} scheduled)" if m.waiting_low else "")
        lines.append(
            f"    {m.name:<24} {waiting:<32} {m.in_flight} in flight   share {budget.share(m):.0%}"
            f"   {', '.join(extras)}"
        )
    return "\n".join(lines)
