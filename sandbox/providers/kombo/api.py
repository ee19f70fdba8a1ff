"""Kombo's unified LMS course endpoints (providers.md §1), mounted under ``/kombo/v1``.

Faithful where Kombo documents behaviour: Bearer API key, ``X-Integration-Id``, HTTP 200 with a
``task_id``, tasks PENDING then COMPLETED with one result per item, the error envelope, the
``ratelimit-*`` headers, 429 ``RATE_LIMIT_EXCEEDED`` versus ``CONCURRENCY_LIMIT_EXCEEDED`` with
``Concurrency-*`` headers on POST actions, a body refused whole (400 ``PLATFORM.INPUT_INVALID``,
naming the item) when one item breaks the schema, tasks that end FAILED with an error code
(settings ``kombo_task_fail_*``). Where Kombo is silent the sandbox chooses and says so: an
unknown field in an item or its course is refused like an ill-typed one (``kombo_unknown_fields``),
the same body for the same integration returns the same task (a client retrying after a lost
answer must not create a second task) unless that task FAILED, and a ``course_url`` on a
``.invalid`` host fails per item.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.http import Request, Response, Route, json_response, stable_id, unresolvable_host
from sandbox.limits.windows import Limit
from sandbox.providers import FakeApi
from sandbox.providers.kombo.body import body_problem
from sandbox.providers.kombo.store import KomboStore, Result, Task
from sandbox.settings import SandboxSettings

__all__ = ["API", "COUNTERS", "PREFIX", "KomboApi", "kombo_error"]

PREFIX = "/kombo/v1"
#: Counters under ``kombo`` in ``/_sandbox/stats`` (besides ``distinct_ids``).
COUNTERS = ("tasks_created", "tasks_failed", "items_received", "idempotent_replays", "deactivations")
#: Most courses per page of GET /lms/courses, and the default (Kombo's documented values).
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 250, 100

_TITLES = {
    "PLATFORM.AUTHENTICATION_INVALID": "Authentication invalid",
    "PLATFORM.INPUT_INVALID": "Input invalid",
    "PLATFORM.INTEGRATION_NOT_FOUND": "Integration not found",
    "PLATFORM.RATE_LIMIT_EXCEEDED": "Rate limit exceeded",
    "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED": "Concurrency limit exceeded",
}
_STATUS_TITLES = {
    404: "Not found",
    405: "Method not allowed",
    500: "Internal error",
    503: "Service unavailable",
}
#: Codes for the errors the framework produces; others get ``code: null`` (Kombo's example does).
_STATUS_CODES = {400: "PLATFORM.INPUT_INVALID", 411: "PLATFORM.INPUT_INVALID", 413: "PLATFORM.INPUT_INVALID",
                 429: "PLATFORM.RATE_LIMIT_EXCEEDED"}  # fmt: skip

KomboHandler = Callable[[Request, str], Response]


def kombo_error(status: int, code: str | None, message: str) -> Response:
    """Kombo's error envelope ``{"status": "error", "error": {code, title, message, log_url}}``."""
    title = _TITLES.get(code or "") or _STATUS_TITLES.get(status)
    error = {"code": code, "title": title, "message": message, "log_url": None}
    return json_response(status, {"status": "error", "error": error})


def _input_invalid(message: str) -> Response:
    return kombo_error(400, "PLATFORM.INPUT_INVALID", message)


class KomboApi(FakeApi[KomboStore]):
    """The Kombo routes over one sandbox :class:`State`."""

    name = "kombo"
    prefix = PREFIX
    counters = COUNTERS

    def routes(self) -> Sequence[Route]:
        return [
            Route("POST", "/lms/courses/bulk", self._guard(self.post_bulk, action=True)),
            Route("GET", "/lms/courses/bulk/{task_id}", self._guard(self.get_task, action=False)),
            Route("POST", "/lms/courses/{course_id}/deactivate", self._guard(self.deactivate, action=True)),
            Route("GET", "/lms/courses", self._guard(self.list_courses, action=False)),
        ]

    def error(self, status: int, message: str) -> Response:
        return kombo_error(status, _STATUS_CODES.get(status), message)

    def new_store(self) -> KomboStore:
        return KomboStore()

    # --- what every Kombo request goes through
    def _guard(self, handler: KomboHandler, *, action: bool) -> Callable[[Request], Response]:
        """API key, rate limit, integration, then for POST actions the concurrency limit.

        The latency is spent inside the concurrency slot, so slow answers hold slots as slow
        remote tools do.
        """

        def guarded(req: Request) -> Response:
            response, headers = self._admit(req)
            if response is not None:
                self.state.pause()
            elif action:
                response = self._act(handler, req, req.headers["x-integration-id"])
            else:
                self.state.pause()
                response = handler(req, req.headers["x-integration-id"])
            response.headers.update(headers)
            return response

        return guarded

    def _admit(self, req: Request) -> tuple[Response | None, dict[str, str]]:
        """A refusal (or None) and the rate-limit headers every authenticated answer carries."""
        s = self.state.settings
        key = req.bearer()
        if key is None or key not in s.kombo_api_keys:
            message = "The API key (Authorization: Bearer) is missing or invalid."
            return kombo_error(401, "PLATFORM.AUTHENTICATION_INVALID", message), {}
        headers: dict[str, str] = {}
        integration = req.headers.get("x-integration-id")
        # Counted per API key whatever the integration (which only names who asked).
        limit = Limit(key, s.kombo_rate_per_s, s.kombo_rate_burst, s.kombo_windows)
        quota = self.state.take_rate(self.name, [limit], sub_account=integration or "")
        if quota is not None:
            headers = {
                "ratelimit-limit": str(quota.limit),
                "ratelimit-remaining": str(quota.remaining),
                "ratelimit-reset": str(quota.reset_s),
            }
            if not quota.allowed:  # Kombo documents no Retry-After: clients read ratelimit-reset
                message = f"You exceeded the rate limit of {quota.limit} requests for this API key."
                return kombo_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED", message), headers
        if not integration:
            return _input_invalid("The X-Integration-Id header is missing."), headers
        if integration not in s.kombo_integrations:
            message = f"No integration with the ID {integration!r} exists."
            return kombo_error(404, "PLATFORM.INTEGRATION_NOT_FOUND", message), headers
        return None, headers

    def _act(self, handler: KomboHandler, req: Request, integration: str) -> Response:
        limit = self.state.settings.kombo_concurrency_limit
        with self.state.in_flight.slot(f"{self.name}:{integration}", limit) as remaining:
            self.state.pause()
            if remaining is None:
                message = f"More than {limit} action requests are in flight for this integration."
                response = kombo_error(429, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", message)
            else:
                response = handler(req, integration)
        response.headers["Concurrency-Limit"] = str(limit)
        response.headers["Concurrency-Remaining"] = str(remaining or 0)
        return response

    # --- endpoints
    def post_bulk(self, req: Request, integration: str) -> Response:
        try:
            body = req.json()
        except ValueError as exc:
            return _input_invalid(str(exc))
        items = body.get("items") if isinstance(body, dict) else None
        limit = self.state.settings.kombo_max_items
        if isinstance(items, list) and len(items) > limit:
            return _input_invalid(f"items: at most {limit} items are allowed per request, got {len(items)}.")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        body_key = hashlib.sha256(f"{integration}\n{canonical}".encode()).hexdigest()
        # These exact bytes passed validation before: a retry skips the costly schema check.
        task_id, created = self.store.replay(body_key, time.time()), False
        if task_id is None:
            s = self.state.settings
            problem = body_problem(body, refuse_unknown=s.kombo_unknown_fields == "refuse")
            if problem:
                return _input_invalid(problem)
            attempt = self.store.tasks_for(body_key)
            rng = self.state.rng("kombo-fail")
            task = _new_task(integration, body_key, attempt, body["items"], settings=s, rng=rng)
            task_id, created = self.store.add(body_key, task)
            if created and task.error is not None:
                self.state.count(self.name, "tasks_failed")
        if created:
            self.state.count(self.name, "tasks_created")
            self.state.count(self.name, "items_received", len(body["items"]))
            self.state.saw_ids(self.name, (item["origin_id"] for item in body["items"]))
        else:
            self.state.count(self.name, "idempotent_replays")
        return json_response(200, {"status": "success", "data": {"task_id": task_id}, "warnings": []})

    def get_task(self, req: Request, integration: str) -> Response:
        doc = self.store.task_doc(integration, req.params["task_id"], time.time())
        if doc is None:
            return kombo_error(404, None, f"No task with the ID {req.params['task_id']!r} exists.")
        return json_response(200, {"status": "success", "data": doc})

    def deactivate(self, req: Request, integration: str) -> Response:
        try:
            body = req.json() if req.body.strip() else {}
        except ValueError as exc:
            return _input_invalid(str(exc))
        if not isinstance(body, dict):
            return _input_invalid("The request body must be a JSON object ({}).")
        doc = self.store.deactivate(integration, req.params["course_id"], time.time())
        if doc is None:
            return kombo_error(404, None, f"No course {req.params['course_id']!r} exists.")
        self.state.count(self.name, "deactivations")
        return json_response(200, {"status": "success", "data": doc, "warnings": []})

    def list_courses(self, req: Request, integration: str) -> Response:
        try:
            size = int(req.arg("page_size") or DEFAULT_PAGE_SIZE)
            offset = int(req.arg("cursor") or 0)
        except ValueError:
            return _input_invalid("page_size and cursor must be integers as returned in data.next.")
        if not 1 <= size <= MAX_PAGE_SIZE or offset < 0:
            return _input_invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
        ids, remote_ids = (
            set(",".join(req.query.get(n, [])).split(",")) - {""} for n in ("ids", "remote_ids")
        )
        docs, more = self.store.page(integration, offset, size, ids | remote_ids, time.time())
        data = {"next": str(offset + size) if more else None, "results": docs}
        return json_response(200, {"status": "success", "data": data, "warnings": []})


def _new_task(
    integration: str,
    body_key: str,
    attempt: int,
    items: list[dict[str, Any]],
    *,
    settings: SandboxSettings,
    rng: random.Random,
) -> Task:
    """The task for a valid body; each item's outcome (or the task's failure) is decided now."""
    now = time.time()
    results = []
    for item in items:
        origin, course = item["origin_id"], item["course"]
        host = unresolvable_host(course["course_url"])
        error = f"The LMS rejected the course: course_url host {host!r} does not resolve" if host else None
        course_id = stable_id("course", integration, origin)
        results.append(Result(origin, course_id, error, None if error else course))
    marker = settings.kombo_task_fail_marker
    marked = marker is not None and any(marker in item["origin_id"] for item in items)
    failure = None
    # Drawn for every task, so the share of failures does not depend on the markers.
    early = attempt < settings.kombo_task_fail_first
    if rng.random() < settings.kombo_task_fail_rate or marked or early:
        code = settings.kombo_task_fail_code
        failure = {"code": code, "title": _TITLES.get(code), "message": f"The task failed ({code}, sandbox)."}
    task_id = stable_id("task", body_key, *([str(attempt)] if attempt else []))
    return Task(task_id, integration, now, now + settings.kombo_pending_s, results, failure)


#: The class ``sandbox.providers.api_classes`` finds.
API = KomboApi
