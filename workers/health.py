"""Is the fleet working? Proven by work done, not by processes found.

A Celery worker can be alive, registered and answering control commands, yet consume nothing:
it stalls silently after a Redis reconnect (celery #8030), or someone cancelled its consumer.
Looking for processes, or pinging them over the control channel, says "healthy" then. So
`coursesync health` sends a tiny ``coursesync.ping`` task and waits for a worker to run it:

- the fleet: through the shared queue, so *some* worker must take it from there;
- one worker (``--worker NAME``): through that worker's own direct queue (``worker_direct``),
  and that worker must also still consume the shared queue;
- beat (``--beat``): beat stamps each tick it publishes; the last one must be recent.

A failure names what it saw (who answers control commands, what the queue holds), because
the person reading it at 3 a.m. must know whether to restart a worker or look at Redis.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from workers import keys

__all__ = [
    "Health",
    "answer_ping",
    "check_beat",
    "check_fleet",
    "check_worker",
    "forget_silent_workers",
    "record_beat_tick",
    "record_heartbeat",
    "record_housekeeping",
]

#: Control commands (who answers, which queues) wait this long for replies.
CONTROL_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str


def _now_ms() -> int:
    return int(time.time() * 1000)


def record_heartbeat(r: redis.Redis, hostname: str) -> None:
    """``hostname`` just finished a task (for reports and metrics; not the health decision)."""
    r.hset(keys.WORKER_HEARTBEATS, hostname, _now_ms())


def record_beat_tick(r: redis.Redis) -> None:
    r.set(keys.BEAT_TICK, _now_ms())


def record_housekeeping(r: redis.Redis, task: str, *, ok: bool) -> None:
    """A run of housekeeping task ``task`` ended (Flower does not list them; the metrics do)."""
    if ok:
        r.hset(keys.HOUSEKEEPING_LAST_OK, task, _now_ms())
    else:
        r.hincrby(keys.HOUSEKEEPING_FAILURES, task, 1)


def answer_ping(r: redis.Redis, token: str, hostname: str) -> None:
    """The body of ``coursesync.ping``: say who ran it."""
    pipe = r.pipeline(transaction=False)
    pipe.set(keys.health_pong(token), hostname, ex=keys.PONG_TTL_S)
    pipe.hset(keys.WORKER_HEARTBEATS, hostname, _now_ms())
    pipe.execute()


def forget_silent_workers(r: redis.Redis, max_age_s: float = keys.HEARTBEAT_FORGET_S) -> int:
    """Drop heartbeats of workers silent for ``max_age_s`` (scaled down, renamed)."""
    cutoff = _now_ms() - max_age_s * 1000
    stale = [w for w, ms in r.hgetall(keys.WORKER_HEARTBEATS).items() if int(ms) < cutoff]
    return int(r.hdel(keys.WORKER_HEARTBEATS, *stale)) if stale else 0


def _ping(app: Any, r: redis.Redis, timeout_s: float, queue: Any = None) -> tuple[str | None, float]:
    """Send a ping (to ``queue``, else the shared queue); who ran it, and after how long."""
    token = secrets.token_hex(8)
    started = time.monotonic()
    # A ping nobody took in time must not run later and confuse the next check.
    app.send_task("coursesync.ping", kwargs={"token": token}, queue=queue, expires=timeout_s)
    while time.monotonic() - started < timeout_s:
        hostname = r.get(keys.health_pong(token))
        if hostname is not None:
            return str(hostname), time.monotonic() - started
        time.sleep(0.05)
    return None, time.monotonic() - started


def _queue_note(r: redis.Redis) -> str:
    return f"queue {keys.CELERY_QUEUE!r} holds {r.llen(keys.CELERY_QUEUE)} message(s)"


def check_fleet(app: Any, r: redis.Redis, *, timeout_s: float) -> Health:
    """Healthy when some worker runs a ping from the shared queue within ``timeout_s``."""
    hostname, took = _ping(app, r, timeout_s)
    if hostname is not None:
        return Health(True, f"ok: {hostname} ran a ping from queue {keys.CELERY_QUEUE!r} in {took:.2f} s")
    replies = app.control.ping(timeout=CONTROL_TIMEOUT_S) or []
    names = sorted(name for reply in replies for name in reply)
    late = f"no worker ran a ping within {timeout_s:g} s"
    if not names:
        why = "and none answers control commands: no worker is running, or none reaches Redis"
        return Health(False, f"{late} {why}; {_queue_note(r)}")
    who = f"{len(names)} worker(s) answer control commands ({', '.join(names)})"
    return Health(
        False, f"{late}, yet {who}: they have {_STALLED} or are all busy; restart them; {_queue_note(r)}"
    )


#: What a worker that answers control commands but runs no task most likely suffers from.
_STALLED = "stopped consuming (Celery can stall after a Redis reconnect, celery #8030)"


def check_worker(app: Any, r: redis.Redis, name: str, *, timeout_s: float) -> Health:
    """Healthy when worker ``name`` runs a ping sent to it alone and consumes the shared queue."""
    from celery.utils.nodenames import worker_direct

    hostname, took = _ping(app, r, timeout_s, queue=worker_direct(name))
    reply = app.control.inspect(destination=[name], timeout=CONTROL_TIMEOUT_S).active_queues() or {}
    late = f"worker {name} did not run a ping within {timeout_s:g} s"
    if hostname is None and name not in reply:
        return Health(False, f"{late} and does not answer control commands: it is gone, stopped or blocked")
    if hostname is None:
        return Health(
            False, f"{late}, yet answers control commands: it has {_STALLED} or is busy; restart it"
        )
    queues = sorted(q.get("name", "?") for q in reply.get(name, []))
    if keys.CELERY_QUEUE not in queues:
        return Health(
            False,
            f"worker {name} ran a ping but no longer consumes queue {keys.CELERY_QUEUE!r} "
            f"(only {', '.join(queues) or 'nothing'}): its consumer was cancelled; restart it",
        )
    return Health(True, f"ok: worker {name} ran a ping in {took:.2f} s and consumes {keys.CELERY_QUEUE!r}")


def check_beat(r: redis.Redis, *, max_idle_s: float) -> Health:
    """Healthy when beat published a tick within ``max_idle_s``."""
    raw = r.get(keys.BEAT_TICK)
    if raw is None:
        return Health(False, "beat has never ticked against this Redis")
    idle_s = (_now_ms() - int(raw)) / 1000
    if idle_s > max_idle_s:
        why = "it is stopped or cannot reach Redis"
        return Health(False, f"beat last ticked {idle_s:.0f} s ago (over {max_idle_s:g} s): {why}")
    return Health(True, f"ok: beat ticked {idle_s:.1f} s ago")
