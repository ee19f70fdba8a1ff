"""Kombo's unified LMS course endpoints (providers.md §1), under ``/kombo/v1``.

Faithful where Kombo documents behaviour: Bearer auth, X-Integration-Id, HTTP 200 with a task
id, PENDING -> COMPLETED tasks with one result per item, the error envelope with ``error.code``,
ratelimit-* headers, 429 RATE_LIMIT vs CONCURRENCY_LIMIT. Where Kombo is silent the sandbox
picks something plausible and says so: idempotency (the same body for the same integration
returns the same task) and the rule that a course URL on a ``.invalid`` host is rejected.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sandbox.http import Request, Response, Route, json_response
from sandbox.limits import TokenBucket
from sandbox.provider import ProviderApp
from sandbox.specs import describe_errors

__all__ = ["KomboApp", "rejection"]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rejection(url: Any) -> str | None:
    """Why the sandbox's "remote LMS" refuses a course URL, or None (all providers share this)."""
    host = urlsplit(str(url)).hostname or ""
    if host.endswith(".invalid"):
        return f"host {host!r} does not resolve"
    return None


class KomboApp(ProviderApp):
    name = "kombo"
    prefix = "/kombo/v1"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/lms/courses/bulk", "/lms/courses/bulk", self.post_bulk),
            Route("GET", "/lms/courses/bulk/{task_id}", "/lms/courses/bulk/{task_id}", self.get_task),
            Route(
                "POST", "/lms/courses/{course_id}/deactivate", "/lms/courses/{id}/deactivate", self.deactivate
            ),
            Route("GET", "/lms/courses", "/lms/courses", self.list_courses),
        ]

    # ---- shapes
    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        kombo_code = code if "." in code or code == "" else f"PLATFORM.{code}"
        if code == "SERVICE_UNAVAILABLE":
            kombo_code = "REMOTE.SERVICE_UNAVAILABLE"
        doc = {
            "status": "error",
            "error": {"code": kombo_code or None, "title": None, "message": message, "log_url": None},
        }
        return json_response(status, doc, headers)

    def rate_limit(self, req: Request) -> tuple[str, float, int | None] | None:
        s = self.state.settings
        if s.kombo_rate_per_s is None:
            return None
        return (req.bearer() or "", s.kombo_rate_per_s, s.kombo_rate_burst)

    def rate_headers(self, bucket: TokenBucket) -> dict[str, str]:
        return {
            "ratelimit-limit": str(bucket.capacity),
            "ratelimit-remaining": str(bucket.remaining()),
            "ratelimit-reset": str(bucket.reset_s()),
        }

    def rate_limited(self, bucket: TokenBucket | None) -> Response:
        # Kombo documents no Retry-After; clients learn from ratelimit-reset.
        return self.error(429, "PLATFORM.RATE_LIMIT_EXCEEDED", "You have exceeded the rate limit.")

    def concurrency(self, req: Request, route: Route) -> tuple[str, int] | None:
        if req.method != "POST":
            return None  # reading synced data is exempt (providers.md §1.3)
        return (
            "kombo:" + req.headers.get("x-integration-id", ""),
            self.state.settings.kombo_concurrency_limit,
        )

    def concurrency_limited(self, key: str, limit: int) -> Response:
        return self.error(
            429,
            "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED",
            f"More than {limit} action requests in flight for this integration.",
            {"Concurrency-Limit": str(limit), "Concurrency-Remaining": "0"},
        )

    def concurrency_headers(self, key: str, limit: int) -> dict[str, str]:
        remaining = max(0, limit - self.state.inflight.current(key))
        return {"Concurrency-Limit": str(limit), "Concurrency-Remaining": str(remaining)}

    # ---- checks
    def _auth(self, req: Request) -> Response | str:
        s = self.state.settings
        if req.bearer() not in s.kombo_api_keys:
            return self.error(401, "PLATFORM.AUTHENTICATION_INVALID", "The API key is missing or invalid.")
        integration = req.headers.get("x-integration-id")
        if not integration:
            return self.error(400, "PLATFORM.INPUT_INVALID", "The X-Integration-Id header is required.")
        if integration not in s.kombo_integrations:
            return self.error(
                404, "PLATFORM.INTEGRATION_NOT_FOUND", f"No integration with id {integration!r}."
            )
        return integration

    # ---- endpoints
    def post_bulk(self, req: Request) -> Response:
        integration = self._auth(req)
        if isinstance(integration, Response):
            return integration
        try:
            body = req.json()
        except ValueError as exc:
            return self.error(400, "PLATFORM.INPUT_INVALID", str(exc))
        problems = describe_errors("kombo", "PostLmsCoursesBulkRequestBody", body)
        if problems:
            return self.error(400, "PLATFORM.INPUT_INVALID", "Invalid request body: " + "; ".join(problems))
        items = body["items"]
        limit = self.state.settings.kombo_max_items
        if len(items) > limit:
            return self.error(
                400, "PLATFORM.INPUT_INVALID", f"items: at most {limit} items per request, got {len(items)}."
            )
        origin_ids = [i["origin_id"] for i in items]
        if len(set(origin_ids)) != len(origin_ids):
            return self.error(
                400, "PLATFORM.INPUT_INVALID", "items: origin_id must be unique within one request."
            )
        return json_response(
            200, {"status": "success", "data": {"task_id": self._task(integration, body)}, "warnings": []}
        )

    def _task(self, integration: str, body: dict[str, Any]) -> str:
        key = hashlib.sha256((integration + json.dumps(body, sort_keys=True)).encode()).hexdigest()
        store = self.state.store(self.name)
        with self.state.lock:
            by_body = store.setdefault("by_body", {})
            if key in by_body:
                self.state.count(self.name, "idempotent_replays")
                return str(by_body[key])
            task_id = "task_" + key[:24]
            by_body[key] = task_id
            now = time.time()
            store.setdefault("tasks", {})[task_id] = {
                "integration": integration,
                "created": now,
                "due": now + self.state.settings.kombo_pending_s,
                "results": [self._apply(integration, item) for item in body["items"]],
            }
        self.state.count(self.name, "tasks_created")
        self.state.saw_items(self.name, [i["origin_id"] for i in body["items"]])
        return task_id

    def _apply(self, integration: str, item: dict[str, Any]) -> dict[str, Any]:
        course, origin = item["course"], item["origin_id"]
        why = rejection(course.get("course_url"))
        if why:
            message = f"The LMS rejected the course: course_url {why}"
            error = {
                "code": "REMOTE.INPUT_INVALID",
                "title": "Remote input invalid",
                "message": message,
                "log_url": None,
            }
            return {"origin_id": origin, "status": "FAILED", "error": error}
        kombo_id = "kc_" + hashlib.sha256(f"{integration}:{origin}".encode()).hexdigest()[:20]
        courses = self.state.store(self.name).setdefault("courses", {}).setdefault(integration, {})
        old = courses.get(origin, {})
        courses[origin] = {"id": kombo_id, "origin_id": origin, "remote_id": "r-" + kombo_id[3:],
                           "title": course["title"], "course_url": course["course_url"], "status": "ACTIVE",
                           "revisions": old.get("revisions", 0) + 1}  # fmt: skip
        return {"origin_id": origin, "status": "SUCCEEDED", "data": {"id": kombo_id}}

    def get_task(self, req: Request) -> Response:
        integration = self._auth(req)
        if isinstance(integration, Response):
            return integration
        task = self.state.store(self.name).get("tasks", {}).get(req.params["task_id"])
        if task is None or task["integration"] != integration:
            return self.error(404, "PLATFORM.INPUT_INVALID", f"No task with id {req.params['task_id']!r}.")
        data: dict[str, Any] = {"task_id": req.params["task_id"], "created_at": _iso(task["created"])}
        if time.time() < task["due"]:
            data.update(status="PENDING", completed_at=None)
        else:
            data.update(status="COMPLETED", data=task["results"], completed_at=_iso(task["due"]))
        return json_response(200, {"status": "success", "data": data})

    def _find_course(self, integration: str, course_id: str) -> dict[str, Any] | None:
        courses = self.state.store(self.name).get("courses", {}).get(integration, {})
        if course_id.startswith("remote:"):
            wanted = course_id[7:]
            return next((c for c in courses.values() if wanted in (c["remote_id"], c["origin_id"])), None)
        return next((c for c in courses.values() if c["id"] == course_id), None)

    def deactivate(self, req: Request) -> Response:
        integration = self._auth(req)
        if isinstance(integration, Response):
            return integration
        with self.state.lock:
            course = self._find_course(integration, req.params["course_id"])
            if course is None:
                return self.error(404, "PLATFORM.INPUT_INVALID", f"No course {req.params['course_id']!r}.")
            course["status"] = "INACTIVE"
        self.state.count(self.name, "deactivations")
        return json_response(200, {"status": "success", "data": _course_doc(course)})

    def list_courses(self, req: Request) -> Response:
        integration = self._auth(req)
        if isinstance(integration, Response):
            return integration
        courses = sorted(
            self.state.store(self.name).get("courses", {}).get(integration, {}).values(),
            key=lambda c: c["id"],
        )
        ids = set(",".join(req.query.get("ids", [])).split(",")) - {""}
        if ids:
            courses = [c for c in courses if c["id"] in ids or c["origin_id"] in ids]
        size = min(250, int(req.query.get("page_size", ["100"])[0]))
        start = int(req.query.get("cursor", ["0"])[0] or 0)
        page = courses[start : start + size]
        nxt = str(start + size) if start + size < len(courses) else None
        return json_response(
            200, {"status": "success", "data": {"next": nxt, "results": [_course_doc(c) for c in page]}}
        )


def _course_doc(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"], "origin_id": c["origin_id"], "remote_id": c["remote_id"],
        "revisions": [{"title": c["title"], "remote_url": c["course_url"], "status": c["status"]}],
    }  # fmt: skip
