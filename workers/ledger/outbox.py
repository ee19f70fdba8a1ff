"""Announcing the end of every run at least once: the webhook outbox.

The atomic step that ends a run also puts its id in ``keys.OUTBOX`` (``workers/lua/_finalize.lua``),
so no crash between "the run ended" and "the webhook was sent" can lose the announcement. Beat
drains the outbox every tick: a run with a webhook gets a ``coursesync.notify_run`` task, and
its entry is pushed ``CLAIM_S`` ahead, so a lost task or a dead worker means one more try, not
silence. The task removes the entry once the receiver took it, or reschedules it with backoff,
and after ``MAX_DELIVERIES`` failed tries gives up and records why in the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from workers import keys, lua
from workers.errors import ConfigError
from workers.ledger.runs import note
from workers.ports import NOTIFY_RUN, Send
from workers.redis_client import strs

__all__ = ["CLAIM_S", "MAX_DELIVERIES", "delivered", "drain_outbox", "failed_delivery"]

log = logging.getLogger(__name__)

#: A claimed entry comes due again this much later if nobody answered for it.
CLAIM_S = 120.0
#: Failed deliveries before the outbox gives up on a run's webhook (about an hour with backoff).
MAX_DELIVERIES = 15


def drain_outbox(
    r: redis.Redis,
    send: Send,
    has_webhook: Callable[[str], bool],
    *,
    limit: int = 100,
) -> int:
    """Hand the due announcements to workers; returns how many tasks were sent."""
    sent = 0
    for run_id in strs(lua.run(r, "outbox_claim", [keys.OUTBOX], [limit, int(CLAIM_S * 1000)])):
        try:
            wanted = has_webhook(run_id)
        except ConfigError as exc:
            log.error("webhook of run=%r is not configured right, not announced: %s", run_id, exc)
            wanted = False
        if not wanted:
            r.zrem(keys.OUTBOX, run_id)
            continue
        send(NOTIFY_RUN, {"run_id": run_id}, {})
        sent += 1
    return sent


def delivered(r: redis.Redis, run_id: str) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.zrem(keys.OUTBOX, run_id)
    pipe.delete(keys.outbox_attempts(run_id))
    pipe.hset(keys.run(run_id), "webhook", "delivered")  # the run's note (runs.note), with the rest
    pipe.execute()


def failed_delivery(
    r: redis.Redis, run_id: str, *, delay_for: Callable[[int], float], reason: str, permanent: bool
) -> tuple[int, float]:
    """Count a failed delivery and schedule the next, ``delay_for(n)`` seconds after the n-th
    failure; after the last one (or a permanent error) record why in the run. Returns (n, delay)."""
    limit = 1 if permanent else MAX_DELIVERIES
    delay_s = delay_for(int(r.get(keys.outbox_attempts(run_id)) or 0) + 1)
    n = int(lua.run(r, "outbox_failed", [keys.OUTBOX, keys.outbox_attempts(run_id)],
                    [run_id, int(delay_s * 1000), limit]))  # fmt: skip
    if n >= limit:
        note(r, run_id, "webhook", f"not delivered after {n} tries: {reason}")
    return n, delay_s
