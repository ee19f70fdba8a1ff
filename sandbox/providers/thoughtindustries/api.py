"""Thought Industries' content bulk imports (providers.md §4), mounted under ``/thoughtindustries``.

Faithful where the docs speak [C*]: Bearer API keys, the four ``/incoming/v2/content/.../bulk``
routes taking ``{"bulkImportAssetPath"}`` and answering ``{"data": {<ResponseKey>: {dryRun,
validRows, invalidRows, backgroundJob}}}``, ``GET /incoming/v2/jobs/{id}``, rate limits per API
key (the plan's, and for the imports the course-management category's on top), the
``X-RateLimit-*`` headers (reset as a Unix time) and the 429 body. Where they are silent it
follows its own choices in ``contract`` (never the client's assumptions), including the shape
of ``invalidRows`` entries (setting ``ti_invalid_rows_shape``). Sandbox-only choices:
``PUT /thoughtindustries/assets/{name}`` stores an asset (the http asset store of tests and
the demo); an asset path is one of those URLs or an absolute ``.csv`` file path; an import of
the same bytes for the same content returns the first import's job (a client retrying after a
lost answer must not import twice); a dry run's job is complete at once.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sandbox.http import Handler, Request, Response, Route, json_response
from sandbox.limits.windows import Limit
from sandbox.providers import FakeApi
from sandbox.providers.thoughtindustries.contract import CONTENTS, DRY_RUN_FIELD, KEY_COLUMN
from sandbox.providers.thoughtindustries.rows import AssetProblem, invalid_entry, judge_rows, parse_asset
from sandbox.providers.thoughtindustries.store import Job, TiStore, job_id

__all__ = ["API", "COUNTERS", "PREFIX", "ThoughtIndustriesApi", "ti_error"]

PREFIX = "/thoughtindustries"
#: Counters under ``thoughtindustries`` in ``/_sandbox/stats`` (besides ``distinct_ids``).
COUNTERS = ("imports", "dry_runs", "jobs_created", "items_received", "idempotent_replays", "assets_stored")
_ASSETS = PREFIX + "/assets/"
_ASSET_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}\.csv$")
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 411: "length_required", 413: "payload_too_large",
          422: "unprocessable_entity", 429: "rate_limit_exceeded", 500: "internal_error",
          503: "service_unavailable"}  # fmt: skip


def ti_error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """``{"error": code, "message"}``: the documented 429 body's shape, for every error (A9)."""
    return json_response(status, {"error": _CODES.get(status, "error"), "message": message, **extra}, headers)


class ThoughtIndustriesApi(FakeApi[TiStore]):
    """The Thought Industries routes over one sandbox :class:`State`."""

    name = "thoughtindustries"
    prefix = PREFIX
    counters = COUNTERS

    def routes(self) -> Sequence[Route]:
        return [
            Route(
                "POST",
                "/incoming/v2/content/{level}/{kind}/bulk",
                self._guard(self.post_bulk, course_management=True),
            ),
            Route("GET", "/incoming/v2/jobs/{job_id}", self._guard(self.get_job)),
            Route("PUT", "/assets/{name}", self._guard(self.put_asset, metered=False)),
        ]

    def error(self, status: int, message: str) -> Response:
        if status == 429:  # injected faults: the documented body, with a one-second hint
            return ti_error(429, message, {"Retry-After": "1"}, retryAfter=1)
        return ti_error(status, message)

    def new_store(self) -> TiStore:
        return TiStore()

    def _guard(self, handler: Handler, *, metered: bool = True, course_management: bool = False) -> Handler:
        """API key, then (for the documented API) the key's plan limits and, for the imports, the
        course-management category limit on top (4.3), with the rate-limit headers."""

        def guarded(req: Request) -> Response:
            s = self.state.settings
            self.state.pause()
            key = req.bearer()
            if key is None or key not in s.ti_api_keys:
                return ti_error(401, "Missing or invalid API key (Authorization: Bearer <key>).")
            headers: dict[str, str] = {}
            limits = [Limit(key, s.ti_rate_per_s, windows=s.ti_windows)] if metered else []
            per_min = s.ti_course_management_per_min
            if course_management and per_min is not None:
                limits.append(Limit(f"{key}:course_management", windows=(f"{per_min}/60",)))
            quota = self.state.take_rate(self.name, limits, sub_account=key)
            if quota is not None:
                # Rounded up: a client that waits until then finds the limit reset.
                reset_epoch_s = math.ceil(time.time()) + quota.reset_s
                headers = {
                    "X-RateLimit-Limit": str(quota.limit),
                    "X-RateLimit-Remaining": str(quota.remaining),
                    "X-RateLimit-Reset": str(reset_epoch_s),
                }
                if not quota.allowed:
                    wait_s = max(1, quota.wait_s)
                    message = f"Rate limit of {quota.limit} requests exceeded for this API key."
                    return ti_error(429, message, {**headers, "Retry-After": str(wait_s)}, retryAfter=wait_s)
            response = handler(req)
            response.headers.update(headers)
            return response

        return guarded

    # --- endpoints
    def put_asset(self, req: Request) -> Response:
        name = req.params["name"]
        if not _ASSET_NAME.match(name):
            return ti_error(400, "An asset name is 1-200 letters, digits, '.', '_' or '-' ending in .csv.")
        created = self.store.put_asset(name, req.body)
        self.state.count(self.name, "assets_stored")
        return json_response(201 if created else 200, {"name": name, "bytes": len(req.body)})

    def get_job(self, req: Request) -> Response:
        doc = self.store.job_doc(req.params["job_id"], time.time())
        if doc is None:
            return ti_error(404, f"No background job with the ID {req.params['job_id']!r} exists.")
        return json_response(200, {"data": {"APIBackgroundJob": doc}})

    def post_bulk(self, req: Request) -> Response:
        content = f"{req.params['level']}/{req.params['kind']}"
        if content not in CONTENTS:
            return ti_error(404, f"No bulk import for {content!r}; known: {', '.join(CONTENTS)}.")
        try:
            body = req.json()
        except ValueError as exc:
            return ti_error(400, str(exc))
        problem = _body_problem(body)
        if problem:
            return ti_error(400, problem)
        data = self._read_asset(body["bulkImportAssetPath"])
        if isinstance(data, str):
            return ti_error(422, data)
        now = time.time()
        try:
            rows = parse_asset(data)
        except AssetProblem as exc:
            return ti_error(422, str(exc))
        group_content = "courseGroup/" + req.params["kind"]
        valid, invalid = judge_rows(rows, content, lambda key: self.store.has_row(group_content, key, now))
        dry_run = body.get(DRY_RUN_FIELD, False)
        job = self._job(content, data, valid, dry_run, now)
        shape = self.state.settings.ti_invalid_rows_shape
        answer = {
            "dryRun": dry_run,
            "validRows": valid,
            "invalidRows": [invalid_entry(n, row, shape) for n, row in invalid],
            "backgroundJob": job.doc(now),
        }
        return json_response(200, {"data": {CONTENTS[content]: answer}})

    def _job(self, content: str, data: bytes, valid: list[dict[str, str]], dry_run: bool, now: float) -> Job:
        if dry_run:  # validation only: nothing to wait for, nothing imported
            self.state.count(self.name, "dry_runs")
            dry_id = job_id("dry", content, hashlib.sha256(data).hexdigest(), repr(now))
            return self.store.add_job(Job(dry_id, content, now, now))[0]
        import_key = hashlib.sha256(content.encode() + b"\n" + data).hexdigest()
        pending_s = self.state.settings.ti_pending_s
        job = Job(job_id("import", import_key), content, now, now + pending_s, valid)
        job, created = self.store.add_job(job, import_key)
        self.state.count(self.name, "imports")
        if created:
            self.state.count(self.name, "jobs_created")
            self.state.count(self.name, "items_received", len(valid))
            self.state.saw_ids(self.name, (row[KEY_COLUMN] for row in valid))
        else:
            self.state.count(self.name, "idempotent_replays")
        return job

    def _read_asset(self, path: str) -> bytes | str:
        """The asset's bytes, or why it cannot be read (A1: a URL of ours or a file path)."""
        parts = urlsplit(path)
        if parts.scheme in ("http", "https") and parts.path.startswith(_ASSETS):
            found = self.store.asset(unquote(parts.path.removeprefix(_ASSETS)))
            return found if found is not None else f"No asset was uploaded at {path!r}."
        if not path.startswith("/") or not path.endswith(".csv"):
            return (f"bulkImportAssetPath {path!r} is neither an asset URL ({_ASSETS}NAME) nor an "
                    "absolute path of a .csv file.")  # fmt: skip
        limit = self.state.settings.max_body_bytes
        try:
            with Path(path).open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            return f"The asset {path!r} cannot be read: {exc.strerror or exc}."
        return data if len(data) <= limit else f"The asset {path!r} is larger than {limit} bytes."


def _body_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    unknown = sorted(set(body) - {"bulkImportAssetPath", DRY_RUN_FIELD})
    if unknown:
        return f"Unknown field(s): {', '.join(unknown)}."
    path = body.get("bulkImportAssetPath")
    if not isinstance(path, str) or not path.strip():
        return "bulkImportAssetPath is required: the storage path of the asset file."
    if not isinstance(body.get(DRY_RUN_FIELD, False), bool):
        return f"{DRY_RUN_FIELD} must be true or false."
    return None


#: The class ``sandbox.providers.api_classes`` finds.
API = ThoughtIndustriesApi
