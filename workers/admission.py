"""How many batches of the connections spending one budget may be in flight, and each one's part.

Used by ``workers.dispatch`` before the fair queue (``workers.ledger.queue.admit``) picks whose
batches go: the group's target follows the budget's rate (or its free job slots), and a
connection's cap follows its own settings and own request budget.
"""

from __future__ import annotations

import math

import redis

from workers import keys
from workers.connections import Connection
from workers.ledger.queue import Flow
from workers.ratelimit import Limits

__all__ = ["ADMIT_AHEAD_S", "MIN_GROUP_IN_FLIGHT", "flow_caps", "group_target", "in_flight"]

#: Connections spending one budget have this many seconds of its rate in flight between them:
#: enough that a submission rarely waits for its request, few enough that the fair queue, not
#: the order batches were handed out in, decides who goes next (a run arriving behind a
#: backlog waits for at most this much of it).
ADMIT_AHEAD_S = 2.0
MIN_GROUP_IN_FLIGHT = 2


def group_target(r: redis.Redis, connections: list[Connection], flows: list[Flow]) -> int:
    """How many of the group's batches may be in flight at once."""
    caps = sum(f.cap for f in flows)
    spec = connections[0].spec
    if spec.job_slots is not None:
        # Slot-bound (360Learning: 3 bulk operations per company): hand out a batch only when a
        # slot is free, and at once when one frees (the poller dispatches as a job ends). A batch
        # handed out early would wait for a slot on a timer and notice the free one late.
        return min(caps, spec.job_slots - Limits.on(r).jobs_running(connections[0]) + in_flight(r, flows))
    per_s = min(w.per_s for w in connections[0].windows(spec.submit_bucket)) / spec.quota_per_submit
    target = max(MIN_GROUP_IN_FLIGHT, math.ceil(per_s * ADMIT_AHEAD_S))
    return min(target, caps)


def flow_caps(limiter: Limits, connections: list[Connection]) -> list[int]:
    """Each connection's share of the group's batches in flight: its own cap, and no more than
    its own request budget (``max_requests_per_minute``) can send in the time the group looks
    ahead, so its batches do not sit in flight waiting for it while others could go."""
    caps = limiter.dispatch_caps(connections)
    for n, connection in enumerate(connections):
        own = connection.own_windows(connection.spec.submit_bucket)
        if own:
            per_s = min(w.per_s for w in own) / connection.spec.quota_per_submit
            caps[n] = min(caps[n], max(1, math.ceil(per_s * ADMIT_AHEAD_S)))
    return caps


def in_flight(r: redis.Redis, flows: list[Flow]) -> int:
    pipe = r.pipeline(transaction=False)
    for f in flows:
        pipe.zcard(keys.inflight(f.name))
    return sum(int(n) for n in pipe.execute())
