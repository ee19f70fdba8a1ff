"""A batch's next provider request, paid from the connection's rate budget.

Both of a batch's kinds of request, its submission and its status polls, go through here. A
request that must wait a moment *books* its slot (the limiter spends the budget in advance) and
comes back at that moment to use it, instead of competing for the budget again and again.
Polls book like submissions: if only submissions could, a busy connection's bookings would
always be ahead of them, and finished jobs would wait until every batch was sent.
"""

from __future__ import annotations

import redis

from workers import keys
from workers.connections import Connection
from workers.dispatch import SHORT_WAIT_S
from workers.ratelimit import Limits
from workers.store.batches import Batch

__all__ = ["BOOKING_LATE_MS", "BOOKING_SLACK_MS", "take_budget"]

#: A booked request may be used this early (ms): Celery's countdown and the sweep's tick are
#: not exact.
BOOKING_SLACK_MS = 50
#: A booking used later than this is given up and the request pays again: sent that late, it
#: would reach the provider together with the requests granted for now (a busy CPU or a slow
#: countdown delays a few processes, which then all send at once) and trip its limit.
BOOKING_LATE_MS = 250


def take_budget(r: redis.Redis, limits: Limits, connection: Connection, bucket: str, batch: Batch) -> float:
    """0 when ``batch`` may send its request from ``bucket`` now, else seconds to wait.

    The booking lives in the batch's hash (``booked_ms``): a batch has one request waiting
    at a time, a submission while it is pending and a poll once it is submitted.
    """
    now_ms = limits.now_ms() if batch.booked_ms is not None else 0
    if batch.booked_ms is not None and now_ms - batch.booked_ms <= BOOKING_LATE_MS:
        paused_s = limits.paused_s(connection.name, bucket)
        if paused_s <= 0 and now_ms < batch.booked_ms - BOOKING_SLACK_MS:
            return (batch.booked_ms - now_ms) / 1000  # back early: wait for the booking
        r.hdel(keys.batch(batch.id), "booked_ms")
        return paused_s  # 0: use the booking; > 0: the provider said stop since we booked
    if batch.booked_ms is not None:
        r.hdel(keys.batch(batch.id), "booked_ms")  # too late now, or its worker died before using it
    grant = limits.spend(connection, bucket, book_within_s=SHORT_WAIT_S)
    if grant.booked and grant.wait_s > 0:
        r.hset(keys.batch(batch.id), "booked_ms", int(grant.now_ms + grant.wait_s * 1000))
    return grant.wait_s
