"""Announcing the end of every run at least once: the webhook outbox.

The atomic step that ends a run also puts its id in ``keys.OUTBOX`` (``workers.store.scripts``),
so no crash between "the run ended" and "the webhook was sent" can lose the announcement. Beat
drains the outbox every tick: a run with a webhook gets a ``coursesync.notify_run`` task, and
its entry is pushed ``CLAIM_S`` ahead, so a lost task or a dead worker means one more try, not
silence. The task removes the entry once the receiver took it, or reschedules it with backoff,
and after ``MAX_DELIVERIES`` failed tries gives up and records why in the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis

from workers import keys
from workers.errors import ConfigError
from workers.redis_client import strs
from workers.store.lua import run_script

__all__ = ["CLAIM_S", "MAX_DELIVERIES", "NOTIFY_TASK", "delivered", "drain_outbox", "failed_delivery"]

log = logging.getLogger(__name__)

NOTIFY_TASK = "coursesync.notify_run"
#: A claimed entry comes due again this much later if nobody answered for it.
CLAIM_S = 120.0
#: Failed deliveries before the outbox gives up on a run's webhook (about an hour with backoff).
MAX_DELIVERIES = 15

#: KEYS: outbox. ARGV: limit, claim_ms. Due run ids (Redis time), each pushed claim_ms ahead.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id) end
return due
"""

#: KEYS: outbox, attempts. ARGV: run_id, delay_ms, max. Counts a failed delivery; reschedules it
#: ``delay_ms`` from now, or drops it after ``max``. Returns the number of failures so far.
_FAILED = """
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 86400)
if n >= tonumber(ARGV[3]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
end
return n
"""


def drain_outbox(
    r: redis.Redis,
    send: Callable[[str, dict[str, Any]], None],
    has_webhook: Callable[[str], bool],
    *,
    limit: int = 100,
) -> int:
    """Hand the due announcements to workers; returns how many tasks were sent."""
    sent = 0
    for run_id in strs(run_script(r, _CLAIM, [keys.OUTBOX], [limit, int(CLAIM_S * 1000)])):
        try:
            wanted = has_webhook(run_id)
        except ConfigError as exc:
            log.error("webhook of run=%r is not configured right, not announced: %s", run_id, exc)
            wanted = False
        if not wanted:
            r.zrem(keys.OUTBOX, run_id)
            continue
        send(NOTIFY_TASK, {"run_id": run_id})
        sent += 1
    return sent


def delivered(r: redis.Redis, run_id: str) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.zrem(keys.OUTBOX, run_id)
    pipe.delete(keys.outbox_attempts(run_id))
    pipe.hset(keys.run(run_id), "webhook", "delivered")
    pipe.execute()


def failed_delivery(
    r: redis.Redis, run_id: str, *, delay_for: Callable[[int], float], reason: str, permanent: bool
) -> tuple[int, float]:
    """Count a failed delivery and schedule the next, ``delay_for(n)`` seconds after the n-th
    failure; after the last one (or a permanent error) record why in the run. Returns (n, delay)."""
    limit = 1 if permanent else MAX_DELIVERIES
    delay_s = delay_for(int(r.get(keys.outbox_attempts(run_id)) or 0) + 1)
    n = int(run_script(r, _FAILED, [keys.OUTBOX, keys.outbox_attempts(run_id)],
                       [run_id, int(delay_s * 1000), limit]))  # fmt: skip
    if n >= limit:
        r.hset(keys.run(run_id), "webhook", f"not delivered after {n} tries: {reason}")
    return n, delay_s
