"""What the sandbox's Kombo remembers: bulk tasks and, per integration, the courses they upserted.

A task's item outcomes are decided when it is created but reach the course store only when the
task completes (``kombo_pending_s`` later), as with a real remote LMS. A task may instead end
FAILED with an error code: then nothing of it is applied (Kombo: "nothing was processed"), and
the same body sent again makes a new task rather than replaying the failed one. Completion is applied
lazily, by whichever request looks next, so no background thread is needed. Documents are built
under the store's lock, which is held for dictionary work only.
"""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass
from typing import Any

from sandbox.http import iso_utc, stable_id

__all__ = ["Course", "KomboStore", "Result", "Task", "course_doc"]

#: The item error of the sandbox's remote LMS (the one rule: hosts under ``.invalid`` fail).
_REJECTED = {"code": "REMOTE.INPUT_INVALID", "title": "Remote input invalid"}


@dataclass(slots=True)
class Result:
    origin_id: str
    course_id: str
    error: str | None  #: why the remote LMS refused the item; None when it succeeds
    course: dict[str, Any] | None  #: the payload to upsert; dropped once applied


@dataclass(slots=True)
class Task:
    task_id: str
    integration: str
    created_s: float  #: epoch seconds
    due_s: float  #: epoch seconds at which it is COMPLETED (or FAILED)
    results: list[Result]
    #: ``{code, title, message}`` of a task that ends FAILED; None when it completes.
    error: dict[str, Any] | None = None

    def failed(self, now_s: float) -> bool:
        return self.error is not None and now_s >= self.due_s


@dataclass(slots=True)
class Course:
    id: str
    remote_id: str
    origin_id: str
    title: str = ""
    description: str | None = None
    course_url: str = ""
    active: bool = True
    upserts: int = 0  #: how many completed tasks wrote this course (1 = created, more = updated)
    created_s: float = 0.0  #: epoch seconds
    changed_s: float = 0.0


class KomboStore:
    """Tasks by id and by body, and per integration the courses; thread-safe.

    Re-upserting a course (same integration and origin id) updates it in place and makes it
    ACTIVE again, as an upsert after a deactivation does in an LMS.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._by_body: dict[str, str] = {}  # sha256(integration + canonical body) -> task id
        self._attempts: dict[str, int] = {}  # body key -> tasks made for it
        self._due: list[tuple[float, str]] = []  # heap of (due_s, task id) not yet applied
        self._courses: dict[str, dict[str, Course]] = {}  # integration -> origin id -> course
        self._index: dict[str, Course] = {}  # "<integration> <Kombo id>" and "<integration> remote:<id>"

    def replay(self, body_key: str, now_s: float) -> str | None:
        """The task already created for this body, if any and not FAILED."""
        with self._lock:
            return self._live(body_key, now_s)

    def tasks_for(self, body_key: str) -> int:
        """How many tasks this body has had (a failed one is replaced by a new one)."""
        with self._lock:
            return self._attempts.get(body_key, 0)

    def _live(self, body_key: str, now_s: float) -> str | None:
        task_id = self._by_body.get(body_key)
        return task_id if task_id is not None and not self._tasks[task_id].failed(now_s) else None

    def add(self, body_key: str, task: Task) -> tuple[str, bool]:
        """Store ``task`` unless the body has a live one already; returns (task id, created)."""
        with self._lock:
            live = self._live(body_key, task.created_s)
            if live is not None:
                return live, False
            self._attempts[body_key] = self._attempts.get(body_key, 0) + 1
            self._by_body[body_key] = task.task_id
            self._tasks[task.task_id] = task
            heapq.heappush(self._due, (task.due_s, task.task_id))
            return task.task_id, True

    def task_doc(self, integration: str, task_id: str, now_s: float) -> dict[str, Any] | None:
        """The ``data`` of GET /lms/courses/bulk/{task_id}, None if unknown to this integration."""
        with self._lock:
            self._settle(now_s)
            task = self._tasks.get(task_id)
            if task is None or task.integration != integration:
                return None
            doc: dict[str, Any] = {"task_id": task.task_id, "created_at": iso_utc(task.created_s)}
            if now_s < task.due_s:
                return {**doc, "status": "PENDING", "completed_at": None}
            if task.error is not None:
                error = {**task.error, "log_url": None}
                return {**doc, "status": "FAILED", "error": error, "completed_at": iso_utc(task.due_s)}
            data = [_result_doc(r) for r in task.results]
            return {**doc, "status": "COMPLETED", "data": data, "completed_at": iso_utc(task.due_s)}

    def deactivate(self, integration: str, ref: str, now_s: float) -> dict[str, Any] | None:
        """Mark the course INACTIVE; ``ref`` is a Kombo id or ``remote:<origin or remote id>``."""
        with self._lock:
            self._settle(now_s)
            course = self._index.get(f"{integration} {ref}")
            if course is None and ref.startswith("remote:"):
                course = self._courses.get(integration, {}).get(ref.removeprefix("remote:"))
            if course is None:
                return None
            course.active, course.changed_s = False, now_s
            return course_doc(course)

    def page(
        self, integration: str, offset: int, size: int, ids: set[str], now_s: float
    ) -> tuple[list[dict[str, Any]], bool]:
        """Course documents ``offset`` to ``offset + size`` (in creation order), and whether more
        follow; ``ids`` (Kombo or remote ids), when not empty, keeps only those courses."""
        with self._lock:
            self._settle(now_s)
            courses = list(self._courses.get(integration, {}).values())
            if ids:
                courses = [c for c in courses if c.id in ids or c.remote_id in ids]
            return [course_doc(c) for c in courses[offset : offset + size]], offset + size < len(courses)

    def held(self, now_s: float) -> list[str]:
        """The origin ids of every course the LMS holds (any integration), once tasks settled."""
        with self._lock:
            self._settle(now_s)
            return sorted({c.origin_id for courses in self._courses.values() for c in courses.values()})

    def _settle(self, now_s: float) -> None:
        """Apply the outcomes of every task that completed by ``now_s``, oldest first."""
        while self._due and self._due[0][0] <= now_s:
            _, task_id = heapq.heappop(self._due)
            task = self._tasks[task_id]
            if task.error is not None:  # a FAILED task processed nothing
                continue
            courses = self._courses.setdefault(task.integration, {})
            for result in task.results:
                if result.course is not None:
                    self._upsert(courses, task, result)
                    result.course = None  # the payload is no longer needed: free it

    def _upsert(self, courses: dict[str, Course], task: Task, result: Result) -> None:
        payload = result.course or {}
        course = courses.get(result.origin_id)
        if course is None:
            remote_id = "lms-" + stable_id("remote", result.course_id, length=12)
            course = Course(result.course_id, remote_id, result.origin_id, created_s=task.due_s)
            courses[result.origin_id] = course
            # Kombo ids are unique anyway; the integration in the key scopes lookups to it.
            self._index[f"{task.integration} {course.id}"] = course
            self._index[f"{task.integration} remote:{remote_id}"] = course
        course.title, course.course_url = payload["title"], payload["course_url"]
        course.description = payload.get("description")
        course.active, course.upserts, course.changed_s = True, course.upserts + 1, task.due_s


def _result_doc(result: Result) -> dict[str, Any]:
    if result.error is None:
        return {"origin_id": result.origin_id, "status": "SUCCEEDED", "data": {"id": result.course_id}}
    error = {**_REJECTED, "message": result.error, "log_url": None}
    return {"origin_id": result.origin_id, "status": "FAILED", "error": error}


def course_doc(course: Course) -> dict[str, Any]:
    """A course as Kombo returns it (``GET /lms/courses``, deactivate), with its latest revision.

    ``remote_data.sandbox.upserts`` is the sandbox's own addition: how often the course was
    written, so tests can tell an update from a duplicate.
    """
    meta: dict[str, Any] = {
        "remote_created_at": iso_utc(course.created_s),
        "remote_deleted_at": None,
        "changed_at": iso_utc(course.changed_s),
        "remote_data": None,
        "custom_fields": None,
        "integration_fields": [],
    }
    revision = {
        "id": stable_id("revision", course.id, str(course.upserts)),
        "remote_id": f"{course.remote_id}-r{course.upserts}",
        "course_id": course.id,
        "title": course.title,
        "description": course.description,
        "remote_url": course.course_url,
        "status": "ACTIVE" if course.active else "INACTIVE",
        "skill_assignments": [],
        **meta,
    }
    return {
        "id": course.id,
        "remote_id": course.remote_id,
        "provider_id": None,
        "origin_id": course.origin_id,
        "provider": None,
        **meta,
        "remote_data": {"sandbox": {"upserts": course.upserts}},
        "revisions": [revision],
    }
