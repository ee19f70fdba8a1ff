"""An in-memory provider for tests and local experiments (dramatiq's StubBroker idea).

It behaves like an asynchronous bulk API: ``submit`` returns a job, ``poll`` answers pending
``pending_polls`` times and then the per-item results. Items whose id is in ``reject`` fail;
a request holding an id of ``poison`` is refused as a whole (as Kombo refuses a body with one
bad item); ``errors`` is a queue of exceptions the next calls raise, to script outages;
``statuses`` a queue of job states the next polls answer before the real one.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from workers.errors import ProviderRejected
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission

__all__ = ["FakeProvider"]


@dataclass
class FakeProvider:
    name: str = "fake"
    resend_safe: bool = True
    pending_polls: int = 1
    reject: set[str] = field(default_factory=set)
    poison: set[str] = field(default_factory=set)
    errors: list[BaseException] = field(default_factory=list)
    statuses: list[JobStatus] = field(default_factory=list)
    synchronous: bool = False
    submissions: list[tuple[str, list[str]]] = field(default_factory=list)
    polls: int = 0
    _jobs: dict[str, tuple[list[str], int]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _raise_scripted(self) -> None:
        with self._lock:
            exc = self.errors.pop(0) if self.errors else None
        if exc is not None:
            raise exc

    def _results(self, ids: list[str]) -> tuple[ItemResult, ...]:
        return tuple(
            ItemResult(i, ok=False, code="REJECTED", message="rejected by the fake LMS")
            if i in self.reject
            else ItemResult(i, ok=True, remote_id=f"remote-{i}")
            for i in ids
        )

    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        self._raise_scripted()
        ids = [i.id for i in items]
        bad = self.poison.intersection(ids)
        if bad:
            with self._lock:
                self.submissions.append((op, ids))
            raise ProviderRejected(f"input invalid: {sorted(bad)[0]}", status_code=400, code="INPUT_INVALID")
        with self._lock:
            self.submissions.append((op, ids))
            job = f"job-{next(self._ids)}"
            self._jobs[job] = (ids, 0)
        if self.synchronous:
            return Submission(job_ref=None, results=self._results(ids))
        return Submission(job_ref=job)

    def poll(self, job_ref: str) -> JobStatus:
        self._raise_scripted()
        with self._lock:
            self.polls += 1
            ids, seen = self._jobs[job_ref]
            self._jobs[job_ref] = (ids, seen + 1)
            scripted = self.statuses.pop(0) if self.statuses else None
        if scripted is not None:
            return scripted
        if seen < self.pending_polls:
            return JobStatus("pending")
        return JobStatus("done", results=self._results(ids))
