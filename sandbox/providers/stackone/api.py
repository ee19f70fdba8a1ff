"""StackOne's unified LMS content endpoints (providers.md §2), mounted under ``/stackone``.

Faithful where StackOne documents behaviour: HTTP Basic with the API key as user and an empty
password, ``x-account-id`` naming the linked account (unknown: 404; suspended: 412), the body
checked against StackOne's own ``LmsBatchUpsertContentRequestDto`` (422), a 202
``BatchResultApiModel`` whose ``errors`` hold one list per item in request order, the error
shape ``{statusCode, message, timestamp}``, and 429 with ``Retry-After`` in seconds. Where
StackOne is silent the sandbox chooses and says so: at most ``stackone_max_items`` items per
batch (422), and its "LMS" refuses per item an item without a title or content_url or whose
content_url host does not resolve (``.invalid``). Accepted items are stored at once: StackOne
has no job to wait for. ``GET /unified/lms/content`` lists them in StackOne's ``Content`` shape.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.http import Request, Response, Route, iso_utc, json_response, unresolvable_host
from sandbox.limits.windows import Limit
from sandbox.providers import FakeApi
from sandbox.providers.stackone.store import StackOneStore, is_active
from schemas.vendored import problems_text
from schemas.vendored.stackone import problems as schema_problems

__all__ = ["API", "COUNTERS", "PREFIX", "StackOneApi", "stackone_error"]

PREFIX = "/stackone"
#: Counters under ``stackone`` in ``/_sandbox/stats`` (besides ``distinct_ids``). ``deactivated``
#: counts accepted items that arrived with ``active: false``.
COUNTERS = ("batches", "items_received", "items_rejected", "deactivated")
#: GET /unified/lms/content: StackOne's default page size, and the sandbox's maximum (undocumented).
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 25, 1000

StackOneHandler = Callable[[Request, str], Response]


def stackone_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """StackOne's error body ``{statusCode, message, timestamp}``."""
    doc = {"statusCode": status, "message": message, "timestamp": iso_utc(time.time())}
    return json_response(status, doc, headers)


def basic_user(req: Request) -> str | None:
    """The user of an ``Authorization: Basic`` header (StackOne's API key), if any."""
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


class StackOneApi(FakeApi[StackOneStore]):
    """The StackOne routes over one sandbox :class:`State`."""

    name = "stackone"
    prefix = PREFIX
    counters = COUNTERS

    def routes(self) -> Sequence[Route]:
        return [
            Route("POST", "/unified/lms/content/batch", self._guard(self.post_batch)),
            Route("GET", "/unified/lms/content", self._guard(self.list_content)),
        ]

    def error(self, status: int, message: str) -> Response:
        headers = {"Retry-After": self._retry_after()} if status in (408, 429) else None
        return stackone_error(status, message, headers)

    def new_store(self) -> StackOneStore:
        return StackOneStore()

    def _retry_after(self) -> str:
        """Whole seconds until a token is back (StackOne always sends seconds)."""
        rate = self.state.settings.stackone_rate_per_s
        return str(max(1, math.ceil(1 / rate)) if rate else 1)

    def _guard(self, handler: StackOneHandler) -> Callable[[Request], Response]:
        """API key, then the key's rate limit, then the linked account."""

        def guarded(req: Request) -> Response:
            self.state.pause()
            s = self.state.settings
            key = basic_user(req)
            if key is None or key not in s.stackone_api_keys:
                return stackone_error(401, "Unauthorized: the API key (Basic user) is missing or invalid.")
            account = req.headers.get("x-account-id", "")
            # Counted per API key whatever the linked account (which only names who asked).
            limit = Limit(key, s.stackone_rate_per_s, windows=s.stackone_windows)
            quota = self.state.take_rate(self.name, [limit], sub_account=account)
            if quota is not None and not quota.allowed:
                message = "Too many requests: the rate limit of this API key is exceeded."
                return stackone_error(429, message, {"Retry-After": str(max(1, quota.wait_s))})
            if account in s.stackone_suspended_accounts:
                message = "Precondition failed: the linked account is suspended, expired or disabled."
                return stackone_error(412, message)
            if account not in s.stackone_accounts:
                return stackone_error(404, f"Account not found: no linked account {account!r}.")
            return handler(req, account)

        return guarded

    def post_batch(self, req: Request, account: str) -> Response:
        try:
            body = req.json()
        except ValueError as exc:
            return stackone_error(400, str(exc))
        items = body.get("items") if isinstance(body, dict) else None
        limit = self.state.settings.stackone_max_items
        if isinstance(items, list) and len(items) > limit:
            return stackone_error(422, f"items must contain no more than {limit} elements, not {len(items)}.")
        problems, total = schema_problems("BatchUpsertContentRequest", body)
        if problems:
            return stackone_error(422, "Validation failed: " + problems_text(problems, total))
        assert isinstance(items, list)  # the schema requires it
        now = time.time()
        errors = [_item_errors(item) for item in items]
        for item, problems_of_item in zip(items, errors, strict=True):
            if not problems_of_item:
                self.store.upsert(account, item, now)
                if not is_active(item.get("active")):
                    self.state.count(self.name, "deactivated")
        self.state.count(self.name, "batches")
        self.state.count(self.name, "items_received", len(items))
        self.state.count(self.name, "items_rejected", sum(1 for e in errors if e))
        self.state.saw_ids(self.name, (item["external_reference"] for item in items))
        doc = {"statusCode": 202, "message": "Batch operation accepted", "timestamp": iso_utc(now)}
        return json_response(202, {**doc, "errors": errors})

    def list_content(self, req: Request, account: str) -> Response:
        try:
            size = int(req.arg("page_size") or DEFAULT_PAGE_SIZE)
            offset = int(req.arg("next") or 0)
        except ValueError:
            return stackone_error(400, "page_size must be a number and next a cursor returned earlier.")
        if not 1 <= size <= MAX_PAGE_SIZE or offset < 0:
            return stackone_error(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
        active_only = req.arg("filter[active]") == "true"
        docs, more = self.store.page(account, offset, size, active_only=active_only)
        return json_response(200, {"data": docs, "next": str(offset + size) if more else None})


def _item_errors(item: dict[str, Any]) -> list[str]:
    """Why the sandbox's LMS refuses one schema-valid item ([] when it takes it)."""
    errors = [f"Missing field: {name}" for name in ("title", "content_url") if not item.get(name)]
    host = unresolvable_host(item["content_url"]) if item.get("content_url") else None
    if host:
        errors.append(f"content_url: the LMS could not resolve the host {host!r}")
    return errors


#: The class ``sandbox.providers.api_classes`` finds.
API = StackOneApi
