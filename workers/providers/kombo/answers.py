"""Reading Kombo's answers: what a bulk task or a deactivation proves.

An answer proves an item succeeded only in the documented shapes (see ``task_status`` and
``deactivation``); anything that cannot be read is ``UnverifiedAnswer`` for the whole answer,
or an ``UNVERIFIED`` result for one item. A task that FAILED with a transient code of ``errors``
(Kombo's code table) is sent again.
"""

from __future__ import annotations

import logging
from typing import Any

from workers.errors import UNVERIFIED, TransientError, UnverifiedAnswer
from workers.providers.base import ItemResult, JobStatus
from workers.providers.kombo.errors import CODES

__all__ = ["deactivation", "task_id", "task_status"]

log = logging.getLogger(__name__)

PROVIDER = "kombo"

_TASK_STATES = ("PENDING", "COMPLETED", "FAILED")


def _unverified(message: str, connection: str, url: str | None = None) -> UnverifiedAnswer:
    return UnverifiedAnswer(message, provider=PROVIDER, connection=connection, url=url)


def _text(value: Any, limit: int = 300) -> str:
    return repr(value)[:limit]


def task_id(body: Any, connection: str, url: str) -> str:
    """The ``data.task_id`` of a 200 to ``POST /lms/courses/bulk``.

    Raises:
        UnverifiedAnswer: no string task id: a task may exist that coursesync cannot name.
    """
    data = body.get("data") if isinstance(body, dict) else None
    found = data.get("task_id") if isinstance(data, dict) else None
    if not isinstance(found, str) or not found:
        raise _unverified(
            f"Kombo answered the upsert without a string data.task_id: {_text(body)}", connection, url
        )
    warnings = body.get("warnings") if isinstance(body, dict) else None
    for warning in warnings if isinstance(warnings, list) else ():
        if isinstance(warning, dict) and isinstance(warning.get("message"), str):
            log.info("connection=%r task=%r: Kombo warns: %s", connection, found, warning["message"])
    return found


def task_status(body: Any, job_ref: str, connection: str, url: str) -> JobStatus:
    """The state of task ``job_ref`` from a 200 to ``GET /lms/courses/bulk/{task_id}``.

    Raises:
        UnverifiedAnswer: no task object, another task's id, an unknown status, or a COMPLETED
            task whose ``data`` is not a list.
    """
    task = body.get("data") if isinstance(body, dict) else None
    if not isinstance(task, dict):
        raise _unverified(f"Kombo's task status has no data object: {_text(body)}", connection, url)
    if "task_id" in task and task["task_id"] != job_ref:
        raise _unverified(
            f"Kombo answered about task {_text(task['task_id'])}, not {job_ref!r}", connection, url
        )
    status = task.get("status")
    if status not in _TASK_STATES:
        raise _unverified(f"Kombo's task has an unknown status {_text(status)}", connection, url)
    if status == "PENDING":
        return JobStatus("pending")
    if status == "FAILED":
        return _failed_task(task.get("error"))
    entries = task.get("data")
    if not isinstance(entries, list):
        raise _unverified(f"Kombo's COMPLETED task has no data list: {_text(entries)}", connection, url)
    results = []
    for entry in entries:
        result = _item_result(entry)
        if result is None:  # the core fails every item that has no result
            log.warning(
                "connection=%r task=%r: a result names no origin_id: %s", connection, job_ref, _text(entry)
            )
        else:
            results.append(result)
    return JobStatus("done", results=tuple(results))


def _failed_task(error: Any) -> JobStatus:
    """A FAILED task: nothing was processed [K4]; sent again when its code is transient."""
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    reason = _message(error, "the task failed without a message")
    decided = CODES.get(code or "")
    if decided is not None and issubclass(decided.cls, TransientError):
        return JobStatus("retry", code=code, reason=reason, retry_after_s=decided.wait_s)
    return JobStatus("failed", code=code, reason=reason)


def _message(error: dict[str, Any], default: str) -> str:
    for key in ("message", "title"):
        if isinstance(error.get(key), str) and error[key]:
            return str(error[key])
    return default


def _item_result(entry: Any) -> ItemResult | None:
    """One entry of a COMPLETED task; None when it cannot be attributed to an item."""
    origin_id = entry.get("origin_id") if isinstance(entry, dict) else None
    if not isinstance(origin_id, str):
        return None
    status = entry.get("status")
    if status == "SUCCEEDED":
        data = entry.get("data")
        remote_id = data.get("id") if isinstance(data, dict) else None
        return ItemResult(origin_id, ok=True, remote_id=remote_id if isinstance(remote_id, str) else None)
    if status == "FAILED":
        error = entry.get("error")
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else "UNKNOWN"
        return ItemResult(origin_id, ok=False, code=code, message=_message(error, "Kombo reported a failure"))
    message = f"Kombo's result for this course has an unknown status {_text(status)}: {_text(entry)}"
    return ItemResult(origin_id, ok=False, code=UNVERIFIED, message=message)


def deactivation(body: Any, item_id: str, kombo_id: str) -> ItemResult:
    """What a 2xx to ``POST /lms/courses/{id}/deactivate`` proves about ``item_id``.

    Success only for Kombo's success envelope around a course object that does not name another
    course (its ``id`` and ``origin_id``, when given, are ours).
    """
    data = body.get("data") if isinstance(body, dict) else None
    why = None
    if not isinstance(body, dict) or body.get("status") != "success":
        why = "not a success envelope"
    elif not isinstance(data, dict):
        why = "no course object in data"
    elif "id" in data and data["id"] != kombo_id:
        why = f"it names course {_text(data['id'])}, not {kombo_id!r}"
    elif data.get("origin_id") is not None and data["origin_id"] != item_id:
        why = f"it names origin_id {_text(data['origin_id'])}"
    if why is None:
        return ItemResult(item_id, ok=True, remote_id=kombo_id)
    message = f"Kombo's answer to the deactivation cannot be read as a success ({why}): {_text(body)}"
    return ItemResult(item_id, ok=False, code=UNVERIFIED, message=message)
