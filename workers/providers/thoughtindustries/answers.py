"""Reading Thought Industries' answers: which rows an import refused, and how its job ended.

The shape of an ``invalidRows`` entry is undocumented (the docs show ``[{}]``), so a row is
matched to our items by every plausible means listed in ``assumptions`` (A6). A refusal that
cannot be matched could be any row: then no row of that answer may count as succeeded (see
``Rows.fail_all``). Answers that cannot be read at all are ``UnverifiedAnswer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.errors import UNVERIFIED, UnverifiedAnswer
from workers.providers.base import ItemResult, JobStatus, OutboundItem
from workers.providers.thoughtindustries.assumptions import (
    ID_FIELDS,
    JOB_DONE_STATUSES,
    JOB_FAILED_STATUSES,
    KEY_COLUMN,
    LINE_FIELDS,
    NESTED_ROW_FIELDS,
    ROW_ERROR_FIELDS,
    ROW_INDEX_FIELDS,
    ROW_NUMBER_FIELDS,
)

__all__ = ["INVALID_ROW", "Rows", "data_object", "job_status", "read_rows"]

PROVIDER = "thoughtindustries"
#: Code of an item Thought Industries listed among ``invalidRows``.
INVALID_ROW = "INVALID_ROW"


def _raw(value: Any) -> str:
    return repr(value)[:300]


def data_object(answer: Any, key: str, connection: str, what: str) -> dict[str, Any]:
    """``answer["data"][key]``: every documented answer is so wrapped.

    Raises:
        UnverifiedAnswer: it is not an object (``what`` names the call, for the message).
    """
    data = answer.get("data") if isinstance(answer, dict) else None
    found = data.get(key) if isinstance(data, dict) else None
    if not isinstance(found, dict):
        message = f"Thought Industries answered {what} without a data.{key} object: {_raw(answer)}"
        raise UnverifiedAnswer(message, provider=PROVIDER, connection=connection)
    return found


@dataclass
class Rows:
    """What one bulk answer says of the rows of its asset."""

    refused: dict[str, ItemResult] = field(default_factory=dict)  #: item id -> its refusal
    unmatched: list[Any] = field(default_factory=list)  #: invalid rows no item can be matched to

    def fail_all(
        self, items: Sequence[OutboundItem], earlier: dict[str, ItemResult]
    ) -> tuple[ItemResult, ...]:
        """Every item fails: refused ones with TI's reason, the others as UNVERIFIED."""
        why = (
            f"Thought Industries refused {len(self.unmatched)} row(s) coursesync could not match to an "
            f"item (e.g. {_raw(self.unmatched[0])}), so no row of this batch can count as succeeded"
        )
        known = {**earlier, **self.refused}
        return tuple(
            known.get(i.id) or ItemResult(i.id, ok=False, code=UNVERIFIED, message=why) for i in items
        )


def read_rows(result: dict[str, Any], items: Sequence[OutboundItem], connection: str) -> Rows:
    """Our items among the ``invalidRows`` of a bulk answer for an asset of ``items`` (in order).

    Raises:
        UnverifiedAnswer: ``invalidRows`` is not a list.
    """
    invalid = result.get("invalidRows")
    if not isinstance(invalid, list):
        message = f"Thought Industries' invalidRows is not a list: {_raw(invalid)}"
        raise UnverifiedAnswer(message, provider=PROVIDER, connection=connection)
    ids = [i.id for i in items]
    # A file line is a row only when no row spans two lines (a quoted newline in a cell).
    cells = (v for i in items for v in i.payload.values())
    one_line = not any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in cells)
    rows = Rows()
    for entry in invalid:
        key = _match(entry, ids, one_line)
        if key is None:
            rows.unmatched.append(entry)
        else:
            rows.refused[key] = ItemResult(key, ok=False, code=INVALID_ROW, message=_reason(entry))
    return rows


def _match(entry: Any, ids: list[str], one_line: bool) -> str | None:
    """The one item id ``entry`` names (A6), or None when it names none, another or several."""
    if not isinstance(entry, dict):
        return None
    ours = set(ids)
    found: set[str] = set()
    # The key column, at the top or in a nested row object: it must name one of our rows.
    nested = [entry[f] for f in NESTED_ROW_FIELDS if isinstance(entry.get(f), dict)]
    for holder in (entry, *nested):
        if KEY_COLUMN in holder:
            key = holder[KEY_COLUMN]
            if not isinstance(key, str) or key not in ours:
                return None
            found.add(key)
    # Id-like fields may hold Thought Industries' own ids: only values naming our rows count.
    found.update(entry[f] for f in ID_FIELDS if isinstance(entry.get(f), str) and entry[f] in ours)
    # Positions: each present must point at a row of this asset.
    positions = ((ROW_NUMBER_FIELDS, 1, True), (ROW_INDEX_FIELDS, 0, True), (LINE_FIELDS, 2, one_line))
    for names, first, usable in positions:
        for name in names:
            if name not in entry or isinstance(entry[name], dict):  # "row" may be a nested object
                continue
            position = _whole(entry[name])
            if not usable or position is None or not 0 <= position - first < len(ids):
                return None
            found.add(ids[position - first])
    return found.pop() if len(found) == 1 else None


def _whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and value.isascii() else None


def _reason(entry: dict[str, Any]) -> str:
    nested = [entry[f] for f in NESTED_ROW_FIELDS if isinstance(entry.get(f), dict)]
    for holder in (entry, *nested):
        for name in ROW_ERROR_FIELDS:
            reason = holder.get(name)
            if isinstance(reason, list) and reason:
                return "; ".join(map(str, reason))
            if reason and not isinstance(reason, list | dict):
                return str(reason)
    return "Thought Industries refused the row without a reason"


def job_status(answer: Any, job_ref: str, ids: list[str] | None, connection: str) -> JobStatus:
    """The state of import job ``job_ref`` whose rows were ``ids`` (None: forgotten)."""
    job = data_object(answer, "APIBackgroundJob", connection, f"the poll of job {job_ref}")
    status, error = job.get("status"), job.get("errorMessage")
    if not isinstance(status, str) or ("id" in job and job["id"] != job_ref):
        message = f"Thought Industries' job has no string status or names another job: {_raw(job)}"
        raise UnverifiedAnswer(message, provider=PROVIDER, connection=connection)
    if status not in JOB_DONE_STATUSES | JOB_FAILED_STATUSES:  # A7: anything else still runs
        return JobStatus("pending", detail={"status": status})
    if "errorMessage" not in job or not isinstance(error, str | None):
        # A7: success needs an empty errorMessage; one we cannot read could hold a failure.
        message = f"Thought Industries' ended job has no readable errorMessage: {_raw(job)}"
        raise UnverifiedAnswer(message, provider=PROVIDER, connection=connection)
    error = (error or "").strip()
    ok = status in JOB_DONE_STATUSES and not error
    reason = f"the import job ended {status!r}: {error or 'without an errorMessage'}"
    if ids is None:
        lost = "coursesync no longer knows which rows the job carried; run `coursesync retry`"
        return JobStatus("failed", code="coursesync.JOB_ROWS_LOST", reason=lost if ok else reason)
    # A8: no per-row results exist; the job's outcome is each of its rows' outcome. Failing
    # row by row (not the whole batch) keeps the dry run's own reasons for its invalid rows.
    failed = (ItemResult(i, ok=False, code="JOB_FAILED", message=reason) for i in ids)
    results = tuple(ItemResult(i, ok=True) for i in ids) if ok else tuple(failed)
    return JobStatus("done", results=results, detail={"status": status})
