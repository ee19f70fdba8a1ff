"""What the sandbox's Thought Industries remembers: uploaded assets, background jobs, content.

An import job stays ``JOB_RUNNING`` for ``ti_pending_s``, then is ``JOB_COMPLETE`` and its
rows reach the content store (per content, keyed by ``KEY_COLUMN``: a second import of a key
updates it). Completion is applied lazily by whichever request looks next, so
no thread is needed. The lock is held for dictionary work only.
"""

from __future__ import annotations

import heapq
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.http import iso_utc
from sandbox.providers.thoughtindustries.contract import JOB_COMPLETE, JOB_RUNNING, KEY_COLUMN
from sandbox.providers.thoughtindustries.rows import Row

__all__ = ["Job", "TiStore", "job_id"]


def job_id(*parts: str) -> str:
    """A uuid (the documented id format) derived from ``parts``, stable across runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x00".join(parts)))


@dataclass(slots=True)
class Job:
    id: str
    content: str  #: e.g. "courseGroup/webinar"
    created_s: float  #: epoch seconds
    due_s: float  #: epoch seconds at which it is complete
    rows: list[Row] = field(default_factory=list)  #: valid rows to import; empty for dry runs
    dry_run: bool = False

    def doc(self, now_s: float) -> dict[str, Any]:
        """The ``BackgroundJob`` object of the docs [T1][T9]."""
        what = "Dry run (validation only)" if self.dry_run else "Bulk import"
        return {
            "id": self.id,
            "type": "contentBulkImport",
            "description": f"{what} of {len(self.rows)} rows into {self.content}",
            "errorMessage": "",
            "createdAt": iso_utc(self.created_s),
            "repeatable": False,
            "status": JOB_COMPLETE if now_s >= self.due_s else JOB_RUNNING,
        }


class TiStore:
    """Assets by name, jobs by id and by import, and per content the imported rows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assets: dict[str, bytes] = {}
        self._jobs: dict[str, Job] = {}
        self._imports: dict[str, str] = {}  # sha256(content + asset bytes) -> job id
        self._due: list[tuple[float, str]] = []  # heap of import jobs not yet applied
        self._content: dict[str, dict[str, Row]] = {}  # content -> key -> row

    def put_asset(self, name: str, data: bytes) -> bool:
        """Store an uploaded asset; True when the name is new."""
        with self._lock:
            created = name not in self._assets
            self._assets[name] = data
            return created

    def asset(self, name: str) -> bytes | None:
        with self._lock:
            return self._assets.get(name)

    def add_job(self, job: Job, import_key: str | None = None) -> tuple[Job, bool]:
        """Keep ``job``; an import already made from the same asset returns that job instead.

        Returns (the job, created).
        """
        with self._lock:
            if import_key is not None:
                known = self._imports.get(import_key)
                if known is not None:
                    return self._jobs[known], False
                self._imports[import_key] = job.id
                heapq.heappush(self._due, (job.due_s, job.id))
            self._jobs[job.id] = job
            return job, True

    def job_doc(self, job_id: str, now_s: float) -> dict[str, Any] | None:
        with self._lock:
            self._settle(now_s)
            job = self._jobs.get(job_id)
            return job.doc(now_s) if job else None

    def has_row(self, content: str, key: str, now_s: float) -> bool:
        """Whether a completed import put a row with ``key`` into ``content``."""
        with self._lock:
            self._settle(now_s)
            return key in self._content.get(content, {})

    def held(self, now_s: float) -> list[str]:
        """The keys of every row a completed import put into any content."""
        with self._lock:
            self._settle(now_s)
            return sorted({key for rows in self._content.values() for key in rows})

    def rows(self, content: str, now_s: float) -> dict[str, Row]:
        """A copy of the imported rows of ``content`` by key (for tests and curious people)."""
        with self._lock:
            self._settle(now_s)
            return {k: dict(v) for k, v in self._content.get(content, {}).items()}

    def _settle(self, now_s: float) -> None:
        while self._due and self._due[0][0] <= now_s:
            _, done = heapq.heappop(self._due)
            job = self._jobs[done]
            target = self._content.setdefault(job.content, {})
            for row in job.rows:
                target[row[KEY_COLUMN]] = row
