"""Scheduled resyncs: beat checks each connection's schedule and starts a run when it is due.

One at a time per connection: a resync due while that connection's previous scheduled run is
still going is skipped, and the skip is recorded in the schedule's state (``coursesync
schedules`` shows it), never stacked. Only one sweep runs at a time, so two beat processes
cannot fire the same schedule twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery.schedules import crontab

from workers import keys
from workers.connections import Connection
from workers.ledger import FINAL_STATES, get_run, new_run_id
from workers.locks import lock
from workers.schedules import Schedule

__all__ = ["SCHEDULED_RUN_CLAIM_S", "check_schedules", "is_due", "next_due_s", "schedule_state"]

log = logging.getLogger(__name__)

#: A scheduled run blocks the next one at most this long, even if its worker vanished.
SCHEDULED_RUN_CLAIM_S = 24 * 3600


def is_due(schedule: Schedule, last_fired_s: float | None, now_s: float) -> bool:
    """Whether ``schedule`` should fire now. An interval fires at once the first time; a cron
    schedule waits for its next matching minute."""
    if schedule.every_s is not None:
        return last_fired_s is None or now_s - last_fired_s >= schedule.every_s
    if last_fired_s is None:
        return False
    minute, hour, day, month, weekday = (schedule.cron or "* * * * *").split()
    cron = crontab(
        minute=minute,
        hour=hour,
        day_of_month=day,
        month_of_year=month,
        day_of_week=weekday,
        nowfun=lambda: datetime.fromtimestamp(now_s, UTC),
    )
    due, _next_s = cron.is_due(datetime.fromtimestamp(last_fired_s, UTC))
    return bool(due)


def next_due_s(schedule: Schedule, last_fired_s: float | None, now_s: float) -> float:
    """When ``schedule`` fires next (epoch s; ``now_s`` when it is due already). The sweep runs
    every tick, so this is when the resync starts, give or take a tick."""
    if is_due(schedule, last_fired_s, now_s):
        return now_s
    if schedule.every_s is not None:
        return (last_fired_s or now_s) + schedule.every_s
    minute, hour, day, month, weekday = (schedule.cron or "* * * * *").split()
    cron = crontab(minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday,
                   nowfun=lambda: datetime.fromtimestamp(now_s, UTC))  # fmt: skip
    # A cron schedule never fired waits for its next matching minute (is_due), counted from now.
    since = datetime.fromtimestamp(last_fired_s if last_fired_s is not None else now_s, UTC)
    remaining: timedelta = cron.remaining_estimate(since)
    return now_s + remaining.total_seconds()


def _still_running(r: redis.Redis, connection: str) -> str | None:
    run_id = r.get(keys.active_run(connection))
    if run_id is None:
        return None
    run = get_run(r, str(run_id))
    if run is not None and run.get("state") in FINAL_STATES:
        r.delete(keys.active_run(connection))
        return None
    return str(run_id)  # running, or reserved and about to start


def check_schedules(
    r: redis.Redis,
    connections: list[Connection],
    start: Callable[[str, str], None],
    now_s: float | None = None,
) -> dict[str, str]:
    """Fire due schedules (``start(connection_name, run_id)`` starts one); returns what happened."""
    with lock(r, keys.SCHEDULES_LOCK, ttl_s=30.0) as held:
        if not held:
            return {}
        now = time.time() if now_s is None else now_s
        return {
            conn.name: outcome
            for conn in connections
            if conn.schedule is not None and (outcome := _fire_if_due(r, conn, conn.schedule, start, now))
        }


def _fire_if_due(
    r: redis.Redis, conn: Connection, schedule: Schedule, start: Callable[[str, str], None], now: float
) -> str:
    """What this tick did about ``conn``'s schedule ("" when it was not due)."""
    state_key = keys.schedule_state(conn.name)
    last = r.hget(state_key, "last_fired_s")
    if not is_due(schedule, float(last) if last is not None else None, now):
        if schedule.cron and last is None:
            r.hset(state_key, "last_fired_s", now)  # cron counts from first sight
        return ""
    r.hset(state_key, "last_fired_s", now)
    running = _still_running(r, conn.name)
    if running is not None:
        outcome = f"skipped: run {running} is still going"
        r.hincrby(state_key, "skipped", 1)
        log.warning("scheduled resync skipped connection=%r: run %r is still going", conn.name, running)
    else:
        run_id = new_run_id()
        r.set(keys.active_run(conn.name), run_id, ex=SCHEDULED_RUN_CLAIM_S)
        start(conn.name, run_id)
        outcome = f"started {run_id}"
        r.hincrby(state_key, "fired", 1)
        r.hset(state_key, "last_run_id", run_id)
        log.info("scheduled resync started connection=%r run=%r", conn.name, run_id)
    r.hset(state_key, mapping={"last_outcome": outcome, "last_outcome_at": now})
    return outcome


def schedule_state(r: redis.Redis, connection: str) -> dict[str, Any]:
    raw = r.hgetall(keys.schedule_state(connection))
    return dict(raw)  # type: ignore[arg-type]
