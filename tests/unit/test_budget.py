"""A batch's request and its booking (workers/ratelimit/bookings.py), on real Redis."""

from __future__ import annotations

import time

import redis

from tests.unit.helpers import connection
from workers import keys
from workers.connections import Connection
from workers.ratelimit import Limits
from workers.ratelimit.bookings import BOOKING_LATE_MS


def spend_the_burst(limits: Limits, conn: Connection) -> None:
    while limits.spend(conn, "requests").wait_s == 0:
        pass


def booked_ms(r: redis.Redis) -> int:
    return int(r.get(keys.booking("acme", "b1")) or 0)


def test_a_booking_is_kept_for_the_batch_to_come_back_to(r: redis.Redis) -> None:
    limits, conn = Limits.on(r), connection(requests_per_minute=60)  # one a second
    spend_the_burst(limits, conn)
    limits.spend(conn, "requests")  # one more slot taken: ours is ~2 s away
    wait_s = limits.take_request(conn, "requests", "b1")
    assert 1.0 < wait_s <= 2.1
    assert abs(booked_ms(r) - (time.time() + wait_s) * 1000) < 100
    # Coming back early, it is told to wait for that booking, not given a new one
    before = booked_ms(r)
    again = limits.take_request(conn, "requests", "b1")
    assert 0 < again <= wait_s and booked_ms(r) == before
    # The booking is the limiter's own state, and expires by itself
    assert 0 < r.pttl(keys.booking("acme", "b1")) <= (wait_s * 1000) + BOOKING_LATE_MS + 1000


def test_a_booking_used_too_late_is_given_up_and_paid_again(r: redis.Redis) -> None:
    limits, conn = Limits.on(r), connection(requests_per_minute=60)
    spend_the_burst(limits, conn)
    late_ms = int(time.time() * 1000) - BOOKING_LATE_MS - 200
    r.set(keys.booking("acme", "b1"), late_ms, px=10_000)
    # Sent now, it would land together with the requests granted for now: it pays again
    wait_s = limits.take_request(conn, "requests", "b1")
    assert wait_s > 0.5
    assert booked_ms(r) != late_ms
