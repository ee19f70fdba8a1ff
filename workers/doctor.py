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

A paused connection's batches wait in its ready list, so they count as reachable, and a paused
run is not ended for waiting (``workers.control``); a cancelled run ends ``cancelled``.

What it cannot repair (a batch record gone from Redis: evicted, or deleted by hand) it reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from workers import keys, ledger
from workers.config import Settings
from workers.locks import lock

__all__ = ["DoctorReport", "examine"]

log = logging.getLogger(__name__)


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
    with lock(r, keys.DOCTOR_LOCK, ttl_s=120.0) as held:
        if not held:
            report.locked_out = True
            return report
        seconds, micros = r.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        open_runs: Any = r.zrange(keys.OPEN_RUNS, 0, -1, withscores=True)
        report.open_runs = len(open_runs)
        for run_id, beat_ms in open_runs:
            _examine_run(r, settings, str(run_id), now_ms - float(beat_ms), report, repair=repair)
    if not report.healthy:
        log.warning("doctor: %s", report)
    return report


def _examine_run(
    r: redis.Redis, settings: Settings, run_id: str, silent_ms: float, report: DoctorReport, *, repair: bool
) -> None:
    raw = ledger.get_run(r, run_id)
    if raw is None:
        report.problems.append(f"run {run_id}: its record is gone (expired or deleted); forgotten")
        if repair:
            r.zrem(keys.OPEN_RUNS, run_id)
        return
    connection = raw["connection"]
    if raw.get("state") in ledger.FINAL_STATES:
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
            state = ledger.seal_run(r, run_id, connection, retention_s=retention_s, fatal=reason)
            if state is not None:
                ledger.run_finished(r, run_id, state, settings)
    checked, found = ledger.check_batches(r, run_id, connection, repair=repair)
    report.batches_checked += checked
    report.requeued += found.requeued
    report.rescheduled += found.rescheduled
    report.problems += [f"batch {b} of run {run_id}: its record is gone" for b in found.missing]
    if repair and (raw.get("sealed") == "1" or run_id in report.silent_runs_ended):
        state = ledger.finalize_run(r, run_id, connection, retention_s=retention_s)
        if state is not None:
            report.runs_finalized.append(run_id)
            ledger.run_finished(r, run_id, state, settings)
