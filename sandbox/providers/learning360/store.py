"""What the sandbox's 360Learning remembers: tokens, integrations, bulk operations, external courses.

An operation goes pending -> queued -> running -> completed over ``l360_pending_s``; its effect
on the course store is applied when it ends, lazily, by whichever request looks next (no
background thread), in the order operations end. Upsert outcomes are decided at submission (a
``launchUrl`` on an unresolvable host fails); archive outcomes when the operation ends, against
the courses that exist then. Everything is guarded by one lock held for dictionary work only.
"""

from __future__ import annotations

import hashlib
import heapq
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.http import iso_utc, unresolvable_host

__all__ = ["ExternalCourse", "L360Store", "Operation", "object_id"]

#: Share of ``l360_pending_s`` after which an operation is queued, then running.
QUEUED_AT, STARTED_AT = 0.2, 0.4


def object_id(*parts: str) -> str:
    """A 24-hex-digit ObjectId derived from ``parts`` (random when none are given)."""
    if not parts:
        return secrets.token_hex(12)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


@dataclass(slots=True)
class Operation:
    id: str
    company: str
    integration: str
    type: str  #: importExternalCourses | archiveExternalCourses
    created_s: float  #: epoch seconds
    ended_s: float
    inputs: list[dict[str, Any]]
    #: per input: (resourceId, errorMessage); upserts decide at creation, archives when applied
    outcomes: list[tuple[str | None, str | None]] = field(default_factory=list)

    def status(self, now_s: float) -> str:
        if now_s >= self.ended_s:
            return "completed"
        span = self.ended_s - self.created_s
        if now_s >= self.created_s + STARTED_AT * span:
            return "running"
        return "queued" if now_s >= self.created_s + QUEUED_AT * span else "pending"

    def doc(self, now_s: float) -> dict[str, Any]:
        """The operation as ``GET /api/v2/bulk/operations/{id}`` returns it (BulkOperation)."""
        status, span = self.status(now_s), self.ended_s - self.created_s
        doc: dict[str, Any] = {
            "_id": self.id,
            "type": self.type,
            "createdAt": iso_utc(self.created_s),
            "status": status,
        }
        if status == "pending":
            return doc
        doc["queuedAt"] = iso_utc(self.created_s + QUEUED_AT * span)
        if status == "queued":
            return doc
        started_s = self.created_s + STARTED_AT * span
        done = 1.0 if status == "completed" else (now_s - started_s) / max(1e-9, self.ended_s - started_s)
        # "the index of the last processed element": -1 would be nothing yet, so start at 0.
        index = max(0, int(done * len(self.inputs)) - 1)
        doc.update(
            startedAt=iso_utc(started_s),
            progress={"index": index, "updatedAt": iso_utc(min(now_s, self.ended_s))},
        )
        if status == "completed":
            doc["endedAt"] = iso_utc(self.ended_s)
        return doc

    def results(self) -> list[dict[str, Any]]:
        out = []
        for given, (resource, error) in zip(self.inputs, self.outcomes, strict=True):
            if error is None:
                out.append({"input": given, "status": "success", "resourceId": resource})
            else:
                out.append({"input": given, "status": "error", "errorMessage": error})
        return out


@dataclass(slots=True)
class ExternalCourse:
    resource_id: str  #: the id of the 360Learning course made from it (``courseId``)
    doc: dict[str, Any]  #: the ExternalCourse as last upserted
    archived: bool = False
    upserts: int = 0


class L360Store:
    """Thread-safe memory of one sandbox 360Learning (all companies)."""

    def __init__(self, on_archived: Callable[[int], None] = lambda n: None) -> None:
        self._lock = threading.Lock()
        self._on_archived = on_archived  #: told how many courses each ended archive operation archived
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (company, expires epoch s)
        self._integrations: dict[str, dict[str, Any]] = {}  # id -> IntegrationDTO (created ones)
        self._owners: dict[str, str] = {}  # integration id -> company
        self._operations: dict[str, Operation] = {}
        self._due: list[tuple[float, str]] = []  # heap of (ended_s, id) not yet applied
        self._courses: dict[tuple[str, str], ExternalCourse] = {}  # (integration, externalId)

    # --- tokens
    def issue_token(self, company: str, ttl_s: float, now_s: float) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now_s}  # forget expired ones
            self._tokens[token] = (company, now_s + ttl_s)
        return token

    def company_of(self, token: str, now_s: float) -> str | None:
        with self._lock:
            found = self._tokens.get(token)
        return found[0] if found is not None and found[1] > now_s else None

    # --- integrations
    def create_integration(self, company: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The new integration, or None when its platform already has one in that group."""
        with self._lock:
            for doc in self._integrations.values():
                if (doc["groupId"], doc["externalPlatform"]) == (body["groupId"], body["externalPlatform"]):
                    return None
            doc = {**body, "_id": object_id(company, body["groupId"], body["externalPlatform"])}
            self._integrations[doc["_id"]], self._owners[doc["_id"]] = doc, company
            return doc

    def integrations(self, company: str) -> list[dict[str, Any]]:
        with self._lock:
            return [doc for i, doc in self._integrations.items() if self._owners[i] == company]

    def integration(self, company: str, integration: str) -> dict[str, Any] | None:
        """A created integration of ``company``, or None."""
        with self._lock:
            return self._integrations[integration] if self._owners.get(integration) == company else None

    # --- operations
    def add_operation(self, op: Operation, limit: int, now_s: float) -> bool:
        """Store ``op`` unless ``limit`` operations of its company have not ended yet."""
        with self._lock:
            running = sum(
                1 for o in self._operations.values() if o.company == op.company and o.ended_s > now_s
            )
            if running >= limit:
                return False
            if op.type == "importExternalCourses":
                op.outcomes = [_upsert_outcome(op.integration, given) for given in op.inputs]
            self._operations[op.id] = op
            heapq.heappush(self._due, (op.ended_s, op.id))
            return True

    def operation(self, company: str, op_id: str, now_s: float) -> Operation | None:
        """The operation, settled up to ``now_s``; None if unknown to ``company``."""
        with self._lock:
            self._settle(now_s)
            op = self._operations.get(op_id)
            return op if op is not None and op.company == company else None

    def held(self, now_s: float) -> list[str]:
        """The externalIds of every course the LMS holds (any integration), once operations ended."""
        with self._lock:
            self._settle(now_s)
            return sorted({external_id for _, external_id in self._courses})

    def course(self, integration: str, external_id: str, now_s: float) -> ExternalCourse | None:
        with self._lock:
            self._settle(now_s)
            return self._courses.get((integration, external_id))

    def _settle(self, now_s: float) -> None:
        """Apply every operation that ended by ``now_s``, oldest first."""
        while self._due and self._due[0][0] <= now_s:
            op = self._operations[heapq.heappop(self._due)[1]]
            if op.type == "importExternalCourses":
                for given, (_, error) in zip(op.inputs, op.outcomes, strict=True):
                    if error is None:
                        self._upsert(op.integration, given)
            else:
                op.outcomes = [self._archive(op.integration, given["externalId"]) for given in op.inputs]
                self._on_archived(sum(1 for _, error in op.outcomes if error is None))

    def _upsert(self, integration: str, given: dict[str, Any]) -> None:
        key = (integration, given["externalId"])
        course = self._courses.get(key)
        if course is None:
            course = self._courses[key] = ExternalCourse(object_id("course", *key), given)
        # A replace: the new data stands alone, and an archived course comes back.
        course.doc, course.archived, course.upserts = given, False, course.upserts + 1

    def _archive(self, integration: str, external_id: str) -> tuple[str | None, str | None]:
        course = self._courses.get((integration, external_id))
        if course is None:
            return None, f"No external course with externalId {external_id!r} exists in this integration."
        course.archived = True
        return course.resource_id, None


def _upsert_outcome(integration: str, given: dict[str, Any]) -> tuple[str | None, str | None]:
    host = unresolvable_host(given.get("launchUrl"))
    if host is not None:
        return None, f"The external course could not be imported: launchUrl host {host!r} does not resolve."
    return object_id("course", integration, given["externalId"]), None
