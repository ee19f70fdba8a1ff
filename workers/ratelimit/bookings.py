"""A batch's next provider request, paid from the connection's rate budget, possibly in advance.

Both of a batch's kinds of request, its submission and its status polls, go through here. A
request that must wait a moment *books* its slot (the limiter spends the budget in advance) and
comes back at that moment to use it, instead of competing for the budget again and again.
Polls book like submissions: if only submissions could, a busy connection's bookings would
always be ahead of them, and finished jobs would wait until every batch was sent. A booking is
the limiter's own state (``keys.booking``), measured on Redis' clock, and expires by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers import keys

if TYPE_CHECKING:
    from workers.connections import Connection
    from workers.ratelimit import Limits

__all__ = ["BOOKING_LATE_MS", "BOOKING_SLACK_MS", "BOOK_WITHIN_S", "take_request"]

#: A request that must wait at most this long books its moment (and comes back on a countdown).
BOOK_WITHIN_S = 5.0
#: A booked request may be used this early (ms): Celery's countdown and the sweep's tick are
#: not exact.
BOOKING_SLACK_MS = 50
#: A booking used later than this is given up and the request pays again: sent that late, it
#: would reach the provider together with the requests granted for now (a busy CPU or a slow
#: countdown delays a few processes, which then all send at once) and trip its limit. Tighter
#: where the budget's windows leave less room (``workers.quota.late_slack_ms``: about 20 ms
#: for a per-second limit, which a sliding window enforces to the request).
BOOKING_LATE_MS = 250


def take_request(limits: Limits, connection: Connection, bucket: str, holder: str, *, cost: int = 1) -> float:
    """0 when ``holder`` (a batch) may send its request from ``bucket`` now, else seconds to wait.

    A batch has one request waiting at a time: a submission while it is pending, a poll once it
    is submitted; so one booking per batch.
    """
    key = keys.booking(connection.name, holder)
    found = limits.backend.value(key)
    if found is not None:
        booked_ms, now_ms = int(found), limits.now_ms()
        if now_ms - booked_ms <= min(BOOKING_LATE_MS, limits.late_slack_ms(connection, bucket)):
            paused_s = limits.paused_s(connection, bucket)
            if paused_s <= 0 and now_ms < booked_ms - BOOKING_SLACK_MS:
                return (booked_ms - now_ms) / 1000  # back early: wait for the booking
            limits.backend.drop(key)
            return paused_s  # 0: use the booking; > 0: the provider said stop since we booked
        limits.backend.drop(key)  # too late now: pay again
    grant = limits.spend(connection, bucket, book_within_s=BOOK_WITHIN_S, cost=cost)
    if grant.booked and grant.wait_s > 0:
        wait_ms = int(grant.wait_s * 1000)
        limits.backend.put(key, str(grant.now_ms + wait_ms), ttl_ms=wait_ms + BOOKING_LATE_MS + 1000)
    return grant.wait_s
