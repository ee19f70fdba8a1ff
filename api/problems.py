"""Errors as RFC 9457 problem documents (``application/problem+json``), naming the field at fault.

A route raises ``Problem``; the app's handlers turn it, and every other HTTP error (validation
by the schemas, unknown routes, wrong methods), into one document shape.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

__all__ = ["Problem", "from_http_exception", "problem_response"]

PROBLEM_TYPE = "https://coursesync.dev/problems/"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    411: "Length required",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An answer other than success: ``status``, a sentence for a person, and the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str = "",
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (problem.kind or str(problem.status)),
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
    }
    if problem.errors:
        body["errors"] = problem.errors
    response = Response(json.dumps(body), status=problem.status, mimetype="application/problem+json")
    response.headers.update(problem.headers)
    return response


def _flatten(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """webargs' nested ``{location: {field: [reasons]}}`` as a flat list of field + reason."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            out.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": prefix, "reason": m} for m in messages]
    if isinstance(messages, list):
        return [e for m in messages for e in _flatten(m, prefix)]
    return [{"field": prefix, "reason": str(messages)}]


def from_http_exception(exc: HTTPException) -> Problem:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # Locations (json, query, headers) are the first part of each name: "json.source_url".
        errors = [
            {"field": e["field"].split(".", 1)[1] if "." in e["field"] else e["field"], "reason": e["reason"]}
            for e in _flatten(messages)
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return Problem(status, detail, kind="invalid-request", errors=errors)
    detail = exc.description or _TITLES.get(status, "error")
    return Problem(status, detail)
