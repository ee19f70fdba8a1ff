"""The doctor: proves that every open run can end, and repairs or ends what cannot.

Beat runs it every ``doctor_interval_s``; ``coursesync doctor`` runs it by hand. For every run
not yet ended (``keys.OPEN_RUNS``):

- a run whose producer fell silent (no heartbeat for ``producer_silence_s``: killed by a deploy
  or the OOM killer mid-catalog) is sealed with that reason; what it enqueued finishes, what it
  never read is not sent (the next sync sends it), and the items it read but never batched are
  counted failed, so the counts add up;
- every batch still on its way must be *reachable*: a pending batch in its connection's ready
  list, the deferred set or the in-flight set (whose expired leases the pump reclaims); a
  submitted one in the due-jobs set. One checked otherwise is put back where it belongs. Each
  check and repair is one atomic script, so a batch moving at that moment is never misjudged;
- a sealed run whose batches have all settled but which did not end (its last settle crashed
  halfway through its caller) is ended.

What it cannot repair (a batch record gone from Redis: evicted, or deleted by hand) it reports.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import redis

from workers import keys
from workers.config import Settings
from workers.redis_client import strs
from workers.runlife import run_finished
from workers.store import runs
from workers.store.lua import run_script

__all__ = ["DoctorReport", "examine"]

log = logging.getLogger(__name__)

#: Batches checked per script call: one call blocks Redis for about a millisecond.
_CHUNK = 200
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

#: KEYS: ready, inflight, deferred, jobs_due, ready_connections, batch... ARGV: repair ('1'|'0'),
#: connection, batch_id... (the same order as the batch keys). Returns {requeued, rescheduled,
#: missing}: ids of pending batches found in no structure, of submitted batches not due for a
#: poll, of batches whose record is gone. With repair, the first two are put back.
_CHECK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ready = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do ready[id] = true end
local requeued, rescheduled, missing = {}, {}, {}
for i = 6, #KEYS do
  local id = ARGV[i - 3]
  local state = redis.call('HGET', KEYS[i], 'state')
  if not state then
    missing[#missing + 1] = id
  elseif state == 'pending' then
    if not (ready[id] or redis.call('ZSCORE', KEYS[2], id) or redis.call('ZSCORE', KEYS[3], id)) then
      requeued[#requeued + 1] = id
      if ARGV[1] == '1' then
        redis.call('HDEL', KEYS[i], 'booked_ms')
        redis.call('RPUSH', KEYS[1], id)
        redis.call('SADD', KEYS[5], ARGV[2])
        ready[id] = true
      end
    end
  elseif state == 'submitted' then
    if not redis.call('ZSCORE', KEYS[4], id) then
      rescheduled[#rescheduled + 1] = id
      if ARGV[1] == '1' then redis.call('ZADD', KEYS[4], now, id) end
    end
  end
end
return {requeued, rescheduled, missing}
"""


@dataclass
class DoctorReport:
    """What one pass found and did. ``healthy`` when nothing needed repair and nothing is broken."""

    locked_out: bool = False
    open_runs: int = 0
    batches_checked: int = 0
    requeued: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)
    silent_runs_ended: list[str] = field(default_factory=list)
    runs_finalized: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        found = self.requeued or self.rescheduled or self.silent_runs_ended or self.runs_finalized
        return not (found or self.problems)


def examine(r: redis.Redis, settings: Settings, *, repair: bool = True) -> DoctorReport:
    """One pass over every open run (see the module docstring). One pass at a time, fleet-wide."""
    report = DoctorReport()
    token = secrets.token_hex(8)
    if not r.set(keys.DOCTOR_LOCK, token, nx=True, px=120_000):
        report.locked_out = True
        return report
    try:
        seconds, micros = r.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        open_runs: Any = r.zrange(keys.OPEN_RUNS, 0, -1, withscores=True)
        report.open_runs = len(open_runs)
        for run_id, beat_ms in open_runs:
            _examine_run(r, settings, str(run_id), now_ms - float(beat_ms), report, repair=repair)
    finally:
        run_script(r, _RELEASE, [keys.DOCTOR_LOCK], [token])
    if not report.healthy:
        log.warning("doctor: %s", report)
    return report


def _examine_run(
    r: redis.Redis, settings: Settings, run_id: str, silent_ms: float, report: DoctorReport, *, repair: bool
) -> None:
    raw = runs.get_run(r, run_id)
    if raw is None:
        report.problems.append(f"run {run_id}: its record is gone (expired or deleted); forgotten")
        if repair:
            r.zrem(keys.OPEN_RUNS, run_id)
        return
    connection = raw["connection"]
    if raw.get("state") in runs.FINAL_STATES:
        if repair:
            r.zrem(keys.OPEN_RUNS, run_id)
        return
    retention_s = settings.run_retention_s
    if raw.get("sealed") != "1" and silent_ms > settings.producer_silence_s * 1000:
        report.silent_runs_ended.append(run_id)
        if repair:
            reason = (
                f"the producer stopped without finishing the catalog (no sign of life for "
                f"{silent_ms / 1000:.0f} s: killed, or its host went away) after reading "
                f"{raw.get('c_total', 0)} items; what it enqueued was sent, the rest was not: "
                "sync the catalog again"
            )
            state = runs.seal_run(r, run_id, connection, retention_s=retention_s, fatal=reason)
            if state is not None:
                run_finished(r, run_id, state, settings)
    _check_batches(r, run_id, connection, report, repair=repair)
    if repair and (raw.get("sealed") == "1" or run_id in report.silent_runs_ended):
        state = runs.finalize_run(r, run_id, connection, retention_s=retention_s)
        if state is not None:
            report.runs_finalized.append(run_id)
            run_finished(r, run_id, state, settings)


def _check_batches(
    r: redis.Redis, run_id: str, connection: str, report: DoctorReport, *, repair: bool
) -> None:
    ids = strs(r.lrange(keys.run_batches(run_id), 0, -1))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found: Any = run_script(
            r,
            _CHECK,
            [
                keys.ready(connection),
                keys.inflight(connection),
                keys.DEFERRED,
                keys.JOBS_DUE,
                keys.READY_CONNECTIONS,
                *[keys.batch(b) for b in chunk],
            ],
            ["1" if repair else "0", connection, *chunk],
        )
        report.batches_checked += len(chunk)
        report.requeued += strs(found[0])
        report.rescheduled += strs(found[1])
        report.problems += [f"batch {b} of run {run_id}: its record is gone" for b in strs(found[2])]
