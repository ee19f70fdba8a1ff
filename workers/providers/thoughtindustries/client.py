"""Thought Industries bulk content imports (providers.md §4): CSV asset, dry run, import, job.

A batch becomes one CSV asset, stored through the connection's ``asset_store``; then
``POST /incoming/v2/content/{content}/bulk`` with ``{"bulkImportAssetPath": path}`` (first as a
dry run when ``dry_run_first``, whose invalid rows fail at once and stay out of the import),
then ``GET /incoming/v2/jobs/{id}`` until the job ends. Whatever Thought Industries does not
document is an assumption of ``assumptions`` (A1..A9), which this module follows; its answers
are read in ``answers``. An invalid row that cannot be matched to an item stops the batch:
no row of it counts as succeeded, and nothing more is imported or polled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from workers import keys
from workers.errors import UnverifiedAnswer
from workers.providers.base import ItemResult, JobStatus, Op, OutboundItem, Submission
from workers.providers.json_api import JsonClient
from workers.providers.thoughtindustries.answers import Rows, data_object, job_status, read_rows
from workers.providers.thoughtindustries.asset_store import AssetStore, asset_name, open_asset_store
from workers.providers.thoughtindustries.assumptions import CONTENTS, DEACTIVATION_UNSUPPORTED, DRY_RUN_FIELD
from workers.providers.thoughtindustries.errors import WORDS, hint
from workers.providers.thoughtindustries.mapping import to_csv

__all__ = ["JOB_ROWS_TTL_S", "ThoughtIndustriesProvider"]

log = logging.getLogger(__name__)

#: How long the item ids of an import job are kept for its poll: beyond the 24 h job deadline.
JOB_ROWS_TTL_S = 7 * 86400


class ThoughtIndustriesProvider(JsonClient):
    """Thought Industries content bulk imports for one connection."""

    name = "thoughtindustries"
    words = WORDS
    #: Nothing documents what a second import of the same asset does.
    resend_safe = False

    # --- HTTP
    def _request(self, method: str, path: str, body: Any = None, *, not_found: str) -> Any:
        """The JSON of a 2xx answer; else the error it means (``not_found``: the advice on a 404)."""
        headers = {"Authorization": f"Bearer {self._conn.secret('api_key')}"}
        url = self._conn.base_url + path
        return self._api.call(method, url, body, headers, hint=partial(hint, not_found=not_found))

    def _bulk(self, asset_path: str, *, dry_run: bool) -> dict[str, Any]:
        """One bulk import call; the ``data.<ResponseKey>`` object of its answer."""
        content = str(self._conn.option("content"))
        body: dict[str, Any] = {"bulkImportAssetPath": asset_path}
        if dry_run:
            body[DRY_RUN_FIELD] = True  # A5; a full import sends the documented body only
        hint = f"check base_url (the instance URL) and content {content!r}"
        answer = self._request("POST", f"/incoming/v2/content/{content}/bulk", body, not_found=hint)
        what = "the dry run" if dry_run else "the import"
        return data_object(answer, CONTENTS.get(content, ""), self._conn.name, what)

    def _store(self) -> AssetStore:
        return open_asset_store(
            str(self._conn.option("asset_store")),
            self._http,
            provider=self.name,
            connection=self._conn.name,
            base_url=self._conn.base_url,
            api_key=self._conn.secret("api_key"),
        )

    # --- Provider
    def submit(self, op: Op, items: Sequence[OutboundItem]) -> Submission:
        if op == "deactivate":  # the mapper refuses inactive items; this is a safety net
            refused = (_failed(i.id, "UNSUPPORTED", DEACTIVATION_UNSUPPORTED) for i in items)
            return Submission(None, tuple(refused))
        store = self._store()
        path = _put(store, self._conn.name, items)
        rows = list(items)
        early: dict[str, ItemResult] = {}  # item id -> refused at submission (invalid rows)
        result: dict[str, Any] | None = None  # the import's answer
        imported = rows  # the rows of the asset the import was given, in order (A6 positions)
        if self._conn.option("dry_run_first", True):
            check = self._bulk(path, dry_run=True)
            verdict = read_rows(check, rows, self._conn.name)
            if check.get("dryRun") is False:  # A5 does not hold: that call imported already
                log.warning("connection=%r: Thought Industries ignored %s", self._conn.name, DRY_RUN_FIELD)
                result = check
            if verdict.unmatched:
                return self._unmatched(verdict, items, early)
            early = verdict.refused
            rows = [i for i in rows if i.id not in early]
            if rows and len(rows) < len(items) and result is None:
                path = _put(store, self._conn.name, rows)  # only the valid rows are imported
        if rows and result is None:
            imported, result = rows, self._bulk(path, dry_run=False)
        if result is not None:  # an import validates too: its invalid rows never enter the job
            verdict = read_rows(result, imported, self._conn.name)
            if verdict.unmatched:
                return self._unmatched(verdict, items, early)
            early.update(verdict.refused)
            rows = [i for i in rows if i.id not in early]
        if not rows:
            return Submission(None, tuple(early.values()))
        job = result.get("backgroundJob") if result else None
        job_id = job.get("id") if isinstance(job, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise UnverifiedAnswer(  # rows may be importing under a job coursesync cannot name
                f"Thought Industries answered the import without a string backgroundJob.id: {job!r:.300}",
                provider=self.name,
                connection=self._conn.name,
            )
        ids = json.dumps([i.id for i in rows])
        self._kv.set(keys.ti_job_rows(self._conn.name, job_id), ids, ex=JOB_ROWS_TTL_S)
        return Submission(job_id, tuple(early.values()))

    def _unmatched(
        self, verdict: Rows, items: Sequence[OutboundItem], early: dict[str, ItemResult]
    ) -> Submission:
        """An invalid row matches no item: fail every row of the batch, import and poll nothing."""
        log.warning(
            "connection=%r: %d invalid row(s) match no item of the batch, e.g. %r; failing all %d rows",
            self._conn.name,
            len(verdict.unmatched),
            verdict.unmatched[0],
            len(items),
        )
        return Submission(None, verdict.fail_all(items, early))

    def poll(self, job_ref: str) -> JobStatus:
        hint = f"Thought Industries does not know import job {job_ref}"
        answer = self._request("GET", f"/incoming/v2/jobs/{quote(job_ref, safe='')}", not_found=hint)
        raw = self._kv.get(keys.ti_job_rows(self._conn.name, job_ref))
        ids: list[str] | None = json.loads(raw) if raw is not None else None
        return job_status(answer, job_ref, ids, self._conn.name)


def _put(store: AssetStore, connection: str, items: Sequence[OutboundItem]) -> str:
    content = to_csv(i.payload for i in items)
    return store.put(asset_name(connection, content), content)


def _failed(item_id: str, code: str, message: str) -> ItemResult:
    return ItemResult(item_id, ok=False, code=code, message=message)
