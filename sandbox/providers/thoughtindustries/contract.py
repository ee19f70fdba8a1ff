"""What the sandbox's Thought Industries expects and answers, written from providers.md §4.

The sandbox owns these choices and imports nothing from ``workers``: a fake that shared the
client's guesses (``workers.providers.thoughtindustries.assumptions``) would agree with every one of them,
right or wrong. ``tests/unit/test_contract_thoughtindustries.py`` checks that the two agree
where they must (the asset's columns, the dry-run field).

Documented [C*] (providers.md §4.2): the four bulk contents and their response keys, the body
``{"bulkImportAssetPath"}``, ``dryRun`` echoed in the answer, the job status ``complete``.
The sandbox's own choices: the CSV columns (the real template is unpublished), a ``dryRun``
body field (as on the users bulk import [T6]), ``running`` while a job runs, and the shapes an
``invalidRows`` entry may take (``INVALID_ROW_SHAPES``: the docs show only ``[{}]``).
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "CONTENTS",
    "CSV_DELIMITER",
    "DRY_RUN_FIELD",
    "GROUP_COLUMN",
    "INVALID_ROW_SHAPES",
    "JOB_COMPLETE",
    "JOB_RUNNING",
    "KEY_COLUMN",
    "REASON_FIELD",
    "REQUIRED_COLUMNS",
]

#: The ``content`` of the bulk path -> the key under ``data`` in its answer [T1]-[T5].
CONTENTS: dict[str, str] = {
    "courseGroup/webinar": "APIBulkCourseGroupWebinarImport",
    "session/webinar": "APIBulkWebinarImport",
    "courseGroup/inPersonEvent": "APIBulkCourseGroupInPersonEventImport",
    "session/inPersonEvent": "APIBulkInPersonEventImport",
}
#: The request field asking for validation only; absent means a full import.
DRY_RUN_FIELD = "dryRun"
#: The only job status the docs show [T9]; the sandbox ends every job in it.
JOB_COMPLETE = "complete"
#: The sandbox's status of a job that still runs (the real enum is undocumented).
JOB_RUNNING = "running"

# The asset: a UTF-8 CSV with one header row, exactly these columns in this order.
CSV_DELIMITER = ","
KEY_COLUMN = "externalId"  #: creates or updates the row's content: the upsert key
GROUP_COLUMN = "courseGroup"  #: a session's course group (its key); empty for course groups
COLUMNS: tuple[str, ...] = (
    KEY_COLUMN,
    GROUP_COLUMN,
    "title",
    "url",
    "description",
    "shortDescription",
    "thumbnailUrl",
    "durationMinutes",
    "language",
    "contentType",
    "difficulty",
    "tags",
    "skills",
    "categories",
    "source",
)
REQUIRED_COLUMNS: tuple[str, ...] = (KEY_COLUMN, "title", "url")
#: Where an invalid row says why it was refused.
REASON_FIELD = "error"

#: How ``invalidRows`` entries look (setting ``ti_invalid_rows_shape``), for a row at 1-based
#: position ``n`` among the asset's data rows:
#: ``flat`` the row's cells plus ``error`` (what the client assumes first);
#: ``nested`` ``{"row": {cells}, "error"}``; ``row_number`` ``{"rowNumber": n, "error"}``;
#: ``line`` ``{"line": n + 1, "error"}`` (the header is line 1); ``id_field`` ``{"id": key,
#: "error"}``; ``unattributable`` ``{"error"}`` only: nothing says which row it was.
INVALID_ROW_SHAPES: tuple[str, ...] = ("flat", "nested", "row_number", "line", "id_field", "unattributable")
