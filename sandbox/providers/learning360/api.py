"""360Learning's API v2 for external courses (providers.md §3), mounted under ``/360learning``.

Faithful where 360Learning documents behaviour: the client-credentials token endpoint and its
bare-string OAuth errors, Bearer tokens that expire (401 ``invalid_token``), the required
``360-api-version: v2.0`` header, scopes (403 ``invalid_scope``), integrations (201, 400
``duplicateExternalPlatform``, 404 ``groupNotFound``, a list of 100 per page with a ``Link``
header), bulk upsert/archive answering 202 with an absolute ``Location``, at most 10,000/1,000
items (400 ``inputTooLong``), 3 unfinished bulk operations per company (429
``bulkOperationsConcurrencyLimitReached``), operations pending -> queued -> running ->
completed, results only once ended (400 ``bulkOperationNotRun``), rate limits answered 429
``{"error": "tooManyRequests"}``. Where 360Learning is silent the sandbox chooses and says so:
a body that breaks the vendored schema is 400 ``invalidInput``; a missing or wrong version
header is 400 ``invalidApiVersion``; a ``launchUrl`` on an unresolvable host fails per item;
archiving an externalId the integration does not have fails per item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from sandbox.http import Request, Response, Route, json_response
from sandbox.limits.windows import Limit
from sandbox.providers import FakeApi
from sandbox.providers.learning360.store import L360Store, Operation, object_id
from schemas.vendored import describe_errors, problems_text

__all__ = ["API", "COUNTERS", "PREFIX", "Learning360Api"]

PREFIX = "/360learning"
#: Counters under ``360learning`` in ``/_sandbox/stats`` (besides ``distinct_ids``).
COUNTERS = ("tokens_issued", "integrations_created", "operations_created", "items_received", "archived")
API_VERSION = "v2.0"
#: Integrations per page of GET /api/v2/integrations (360Learning's documented page size).
PAGE_SIZE = 100
#: (operation type, vendored body schema, most items per request) of the two bulk endpoints.
_BULK = {
    "PUT": ("importExternalCourses", "UpsertExternalCoursesRequest", 10_000),
    "DELETE": ("archiveExternalCourses", "ArchiveExternalCoursesRequest", 1_000),
}
#: Codes for the errors the framework produces (unknown route, body refused, injected faults).
_STATUS_CODES = {400: "invalidInput", 404: "notFound", 405: "methodNotAllowed", 411: "lengthRequired",
                 413: "payloadTooLarge", 500: "internalError", 503: "serviceUnavailable"}  # fmt: skip

L360Handler = Callable[[Request, str], Response]


def l360_error(status: int, code: str, message: str) -> Response:
    """360Learning's usual error shape ``{"error": {"code", "message"}}``."""
    return json_response(status, {"error": {"code": code, "message": message}})


def bare_error(status: int, error: str) -> Response:
    """The bare-string shape of OAuth, 401 and rate-limit errors: ``{"error": "invalid_token"}``."""
    return json_response(status, {"error": error})


class Learning360Api(FakeApi[L360Store]):
    """The 360Learning routes over one sandbox :class:`State`."""

    name = "360learning"
    prefix = PREFIX
    counters = COUNTERS

    def routes(self) -> Sequence[Route]:
        courses = "/api/v2/bulk/integrations/{integrationId}/courses"
        operation = "/api/v2/bulk/operations/{bulkOperationId}"
        return [
            Route("POST", "/api/v2/oauth2/token", self.token),
            Route("POST", "/api/v2/integrations", self._guard(self.create_integration, "integrations:write")),
            Route("GET", "/api/v2/integrations", self._guard(self.list_integrations, "integrations:read")),
            Route(
                "GET",
                "/api/v2/integrations/{integrationId}/courses/{externalId}",
                self._guard(self.get_course, "integrations:read"),
            ),
            Route("PUT", courses, self._guard(self.bulk, "integrations:bulk")),
            Route("DELETE", courses, self._guard(self.bulk, "integrations:bulk")),
            Route("GET", operation, self._guard(self.get_operation, "bulkOperations:read")),
            Route("GET", operation + "/results", self._guard(self.get_results, "bulkOperations:read")),
        ]

    def error(self, status: int, message: str) -> Response:
        if status == 401:
            return bare_error(401, "invalid_token")
        if status == 429:
            return bare_error(429, "tooManyRequests")
        return l360_error(status, _STATUS_CODES.get(status, "error"), message)

    def new_store(self) -> L360Store:
        return L360Store(lambda n: self.state.count(self.name, "archived", n))

    # --- what every v2 request goes through
    def _guard(self, handler: L360Handler, scope: str) -> Callable[[Request], Response]:
        """Token, rate limit of the company (reads and writes apart), version header, scope."""

        def guarded(req: Request) -> Response:
            self.state.pause()
            s = self.state.settings
            company = self.store.company_of(req.bearer() or "", time.time())
            if company is None:
                return bare_error(401, "invalid_token")
            if req.method == "GET":
                limit = Limit(f"{company}:read", s.l360_read_rate_per_s, windows=s.l360_read_windows)
            else:
                limit = Limit(f"{company}:write", s.l360_write_rate_per_s, windows=s.l360_write_windows)
            quota = self.state.take_rate(self.name, [limit], sub_account=company)
            if quota is not None and not quota.allowed:  # 360Learning documents no limit headers
                return bare_error(429, "tooManyRequests")
            if req.headers.get("360-api-version") != API_VERSION:
                message = f"The 360-api-version header is required; the only allowed value is {API_VERSION}."
                return l360_error(400, "invalidApiVersion", message)
            if scope not in s.l360_scopes:
                return l360_error(403, "invalid_scope", f"The access token does not have the {scope} scope.")
            return handler(req, company)

        return guarded

    def _integration(self, company: str, integration: str) -> dict[str, Any] | None:
        """A created integration of ``company`` or one of ``l360_integration_ids``."""
        s = self.state.settings
        if integration in s.l360_integration_ids:
            n = s.l360_integration_ids.index(integration)
            author = object_id("sandbox-author")
            return {"_id": integration, "externalPlatform": f"sandbox-preexisting-{n}",
                    "groupId": s.l360_group_ids[0], "authorId": author}  # fmt: skip
        return self.store.integration(company, integration)

    # --- endpoints
    def token(self, req: Request) -> Response:
        self.state.pause()
        try:
            body = req.json()
        except ValueError:
            return bare_error(400, "invalid_request")
        if isinstance(body, dict) and body.get("grant_type", "client_credentials") != "client_credentials":
            return bare_error(400, "unsupported_grant_type")
        if describe_errors(self.name, "TokenRequest", body)[1]:
            return bare_error(400, "invalid_request")
        clients = dict(c.split(":", 1) for c in self.state.settings.l360_clients if ":" in c)
        if clients.get(body["client_id"]) != body["client_secret"]:
            return bare_error(401, "invalid_client")
        ttl_s = self.state.settings.l360_token_ttl_s
        # One company per client: limits and objects are per company, as at 360Learning.
        token = self.store.issue_token(body["client_id"], ttl_s, time.time())
        self.state.count(self.name, "tokens_issued")
        return json_response(200, {"token_type": "Bearer", "access_token": token, "expires_in": ttl_s})

    def create_integration(self, req: Request, company: str) -> Response:
        try:
            body = req.json()
        except ValueError as exc:
            return l360_error(400, "invalidInput", str(exc))
        problems, total = describe_errors(self.name, "CreateIntegrationRequest", body)
        if total:
            return l360_error(400, "invalidInput", "The request body is invalid: " + "; ".join(problems))
        if body["groupId"] not in self.state.settings.l360_group_ids:
            return l360_error(404, "groupNotFound", f"No group with the ID {body['groupId']!r} exists.")
        doc = self.store.create_integration(company, body)
        if doc is None:
            platform = body["externalPlatform"]
            message = f"The external platform {platform!r} already has an integration in this group."
            return l360_error(400, "duplicateExternalPlatform", message)
        self.state.count(self.name, "integrations_created")
        return json_response(201, doc)

    def list_integrations(self, req: Request, company: str) -> Response:
        try:
            page = int(req.arg("page") or 1)
        except ValueError:
            page = 0
        if page < 1:
            return l360_error(400, "invalidInput", "page must be a positive integer.")
        s = self.state.settings
        docs = [d for i in s.l360_integration_ids if (d := self._integration(company, i)) is not None]
        docs += self.store.integrations(company)
        platform = req.arg("externalPlatform[eq]")
        if platform is not None:
            docs = [d for d in docs if d["externalPlatform"] == platform]
        headers = {}
        if len(docs) > page * PAGE_SIZE:
            query = urlencode({**{k: v[0] for k, v in req.query.items()}, "page": page + 1})
            url = f"http://{req.headers.get('host', '127.0.0.1')}{PREFIX}/api/v2/integrations?{query}"
            headers["Link"] = f'<{url}>; rel="next"'
        return json_response(200, docs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], headers)

    def get_course(self, req: Request, company: str) -> Response:
        integration, external_id = req.params["integrationId"], req.params["externalId"]
        found = self._integration(company, integration)
        if found is None:
            return l360_error(
                404, "integrationNotFound", f"No integration with the ID {integration!r} exists."
            )
        course = self.store.course(integration, external_id, time.time())
        if course is None:
            message = f"The external course {external_id!r} does not belong to this integration."
            return l360_error(400, "courseNotBelongToIntegration", message)
        doc = {
            "authorId": found["authorId"],
            "translations": [],
            **course.doc,
            "courseId": course.resource_id,
        }
        # 360Learning documents no archived flag in this answer; the header is the sandbox's own.
        return json_response(200, doc, {"X-Sandbox-Archived": str(course.archived).lower()})

    def bulk(self, req: Request, company: str) -> Response:
        """PUT (upsert) or DELETE (archive) ``/api/v2/bulk/integrations/{id}/courses``."""
        kind, schema, limit = _BULK[req.method]
        integration = req.params["integrationId"]
        if self._integration(company, integration) is None:
            return l360_error(
                404, "integrationNotFound", f"No integration with the ID {integration!r} exists."
            )
        given, refusal = _bulk_input(req, schema, limit)
        if refusal is not None:
            return refusal
        now = time.time()
        op = Operation(
            object_id(), company, integration, kind, now, now + self.state.settings.l360_pending_s, given
        )
        if not self.store.add_operation(op, self.state.settings.l360_bulk_concurrency, now):
            message = "The maximum number of concurrent bulk operations has been reached."
            return l360_error(429, "bulkOperationsConcurrencyLimitReached", message)
        self.state.count(self.name, "operations_created")
        self.state.count(self.name, "items_received", len(given))
        if kind == "importExternalCourses":
            self.state.saw_ids(self.name, (item["externalId"] for item in given))
        location = f"http://{req.headers.get('host', '127.0.0.1')}{PREFIX}/api/v2/bulk/operations/{op.id}"
        return Response(202, b"", {"Location": location})

    def get_operation(self, req: Request, company: str) -> Response:
        now = time.time()
        op = self.store.operation(company, req.params["bulkOperationId"], now)
        if op is None:
            return _operation_not_found(req)
        return json_response(200, op.doc(now))

    def get_results(self, req: Request, company: str) -> Response:
        now = time.time()
        op = self.store.operation(company, req.params["bulkOperationId"], now)
        if op is None:
            return _operation_not_found(req)
        if op.status(now) != "completed":
            return l360_error(400, "bulkOperationNotRun", "The bulk operation has not run yet.")
        return json_response(200, op.results())


def _bulk_input(req: Request, schema: str, limit: int) -> tuple[list[Any], Response | None]:
    """The ``input`` array of a bulk body, or the 400 answer it deserves."""
    try:
        body = req.json()
    except ValueError as exc:
        return [], l360_error(400, "invalidInput", str(exc))
    given = body.get("input") if isinstance(body, dict) else None
    if not isinstance(given, list):
        return [], l360_error(400, "invalidInput", "The input of a bulk operation must be an array.")
    if len(given) > limit:
        message = f"The input array has {len(given)} objects; the maximum is {limit:,}."
        return [], l360_error(400, "inputTooLong", message)
    problems, total = describe_errors("360learning", schema, body)
    if total:
        return [], l360_error(400, "invalidInput", "The input is invalid: " + problems_text(problems, total))
    return given, None


def _operation_not_found(req: Request) -> Response:
    message = f"No bulk operation with the ID {req.params['bulkOperationId']!r} exists."
    return l360_error(404, "bulkOperationNotFound", message)


#: The class ``sandbox.providers.api_classes`` finds.
API = Learning360Api
