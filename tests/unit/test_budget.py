"""A batch's request and its booking (workers/budget.py), on real Redis."""

from __future__ import annotations

import time

import redis

from tests.unit.helpers import connection
from workers import keys
from workers.budget import BOOKING_LATE_MS, take_budget
from workers.connections import Connection
from workers.ratelimit import Limits
from workers.store.batches import Batch, load_batch


def pending_batch(r: redis.Redis, batch_id: str = "b1") -> Batch:
    r.hset(keys.batch(batch_id), mapping={"run_id": "r", "connection": "acme", "state": "pending"})
    found = load_batch(r, batch_id)
    assert found is not None
    return found


def spend_the_burst(limits: Limits, conn: Connection) -> None:
    while limits.spend(conn, "requests").wait_s == 0:
        pass


def test_a_booking_is_kept_for_the_batch_to_come_back_to(r: redis.Redis) -> None:
    limits, conn = Limits.on(r), connection(requests_per_minute=60)  # one a second
    spend_the_burst(limits, conn)
    limits.spend(conn, "requests")  # one more slot taken: ours is ~2 s away
    wait_s = take_budget(r, limits, conn, "requests", pending_batch(r))
    assert 1.0 < wait_s <= 2.1
    booked_ms = int(r.hget(keys.batch("b1"), "booked_ms") or 0)
    assert abs(booked_ms - (time.time() + wait_s) * 1000) < 100
    # Coming back early, it is told to wait for that booking, not given a new one
    again = take_budget(r, limits, conn, "requests", pending_batch(r))
    assert 0 < again <= wait_s and int(r.hget(keys.batch("b1"), "booked_ms") or 0) == booked_ms


def test_a_booking_used_too_late_is_given_up_and_paid_again(r: redis.Redis) -> None:
    limits, conn = Limits.on(r), connection(requests_per_minute=60)
    spend_the_burst(limits, conn)
    late_ms = int(time.time() * 1000) - BOOKING_LATE_MS - 200
    r.hset(
        keys.batch("b1"),
        mapping={"run_id": "r", "connection": "acme", "state": "pending", "booked_ms": late_ms},
    )
    batch = load_batch(r, "b1")
    assert batch is not None and batch.booked_ms == late_ms
    # Sent now, it would land together with the requests granted for now: it pays again
    wait_s = take_budget(r, limits, conn, "requests", batch)
    assert wait_s > 0.5
    assert int(r.hget(keys.batch("b1"), "booked_ms") or 0) != late_ms
