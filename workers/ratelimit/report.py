"""What ``coursesync limits`` and the metrics show of each budget: limits, use, who waits.

Read-only: the state belongs to the limiter (``workers.ratelimit``) and the dispatch queue
(``workers.ledger.queue``); this module only reads it, one pipeline per budget.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from workers import keys
from workers.connections import Connection
from workers.quota import Window
from workers.ratelimit import USE_SLOT_S
from workers.ratelimit.budgets import budget_id

__all__ = ["BudgetReport", "Member", "as_json", "report"]

#: Use is shown over this many slots of ``USE_SLOT_S`` (one minute), and the sparkline over 10 min.
_MINUTE_SLOTS = 60 // USE_SLOT_S
_SPARK_SLOTS = 60


@dataclass
class Member:
    """A connection spending the budget."""

    name: str
    weight: float
    waiting: int  #: batches in its ready lists
    waiting_low: int  #: of which scheduled resyncs'
    in_flight: int
    own_cap: tuple[Window, ...]
    learned_cap: int | None


@dataclass
class BudgetReport:
    id: str
    provider: str
    bucket: str
    windows: tuple[Window, ...]
    paused_s: float
    pause_reason: str | None
    used_last_minute: int
    #: Requests granted per 10 s over the last 10 minutes, oldest first.
    use_per_10s: list[int]
    members: list[Member] = field(default_factory=list)
    job_slots: tuple[int, int] | None = None  #: (held, limit)

    @property
    def waiting_connections(self) -> int:
        return sum(1 for m in self.members if m.waiting)

    def share(self, member: Member) -> float:
        """The member's fair share while it waits with the others (0 when it does not wait)."""
        total = sum(m.weight for m in self.members if m.waiting)
        return member.weight / total if member.waiting and total else 0.0


def report(r: Any, connections: list[Connection]) -> list[BudgetReport]:
    """One report per budget and request bucket that ``connections`` spend."""
    groups: dict[tuple[str, str], list[Connection]] = {}
    for conn in connections:
        for bucket in sorted({conn.spec.submit_bucket, conn.spec.poll_bucket}):
            groups.setdefault((budget_id(conn), bucket), []).append(conn)
    return [_one(r, budget, bucket, members) for (budget, bucket), members in sorted(groups.items())]


def _one(r: Any, budget: str, bucket: str, members: list[Connection]) -> BudgetReport:
    first = members[0]
    now_slot = int(time.time()) // USE_SLOT_S
    slots = [keys.budget_used(budget, bucket, now_slot - i) for i in range(_SPARK_SLOTS - 1, -1, -1)]
    pipe = r.pipeline(transaction=False)
    pipe.mget(slots)
    pipe.get(keys.pause(budget, bucket))
    pipe.pttl(keys.pause(budget, bucket))
    for conn in members:
        pipe.llen(keys.ready(conn.name))
        pipe.llen(keys.ready(conn.name, "low"))
        pipe.zcard(keys.inflight(conn.name))
        pipe.get(keys.learned_cap(conn.name))
    pipe.zcount(keys.slots(budget, "jobs"), int(time.time() * 1000), "+inf")  # live leases only
    replies = pipe.execute()
    use = [int(v or 0) for v in replies[0]]
    found = BudgetReport(
        id=budget,
        provider=first.provider,
        bucket=bucket,
        windows=first.windows(bucket),
        paused_s=max(0, int(replies[2])) / 1000.0,
        pause_reason=replies[1],
        used_last_minute=sum(use[-_MINUTE_SLOTS:]),
        use_per_10s=use,
    )
    for i, conn in enumerate(members):
        ready, low, busy, learned = replies[3 + 4 * i : 7 + 4 * i]
        found.members.append(
            Member(
                name=conn.name,
                weight=conn.weight,
                waiting=int(ready) + int(low),
                waiting_low=int(low),
                in_flight=int(busy),
                own_cap=conn.own_windows(bucket),
                learned_cap=int(learned) if learned else None,
            )
        )
    if first.spec.job_slots is not None and bucket == first.spec.submit_bucket:
        found.job_slots = (int(replies[-1]), first.spec.job_slots)
    return found


def as_json(budget: BudgetReport) -> dict[str, Any]:
    """The report as JSON (`coursesync limits --json` and the API): windows as text, shares."""
    doc = asdict(budget)
    doc["windows"] = [str(w) for w in budget.windows]
    doc["waiting_connections"] = budget.waiting_connections
    for member, raw in zip(budget.members, doc["members"], strict=True):
        raw["own_cap"] = [str(w) for w in member.own_cap]
        raw["share"] = round(budget.share(member), 4)
    return doc
