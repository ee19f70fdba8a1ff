"""Every Thought Industries behaviour coursesync ASSUMES, in one place (client and sandbox).

Thought Industries documents its content bulk imports only as far as the request
``{"bulkImportAssetPath": "<string>"}``, the response
``{"data": {"<ResponseKey>": {dryRun, validRows, invalidRows, backgroundJob}}}`` and the job
poll ``GET /incoming/v2/jobs/{id}`` (providers.md §4, sources [T1]-[T11], marked [C*]: the
developer pages look templated). Everything below is NOT documented publicly. Each point is
one assumption, named A1..A9; the client (``workers.providers.thoughtindustries``), the CSV
mapping (``schemas.thoughtindustries``) and the sandbox (``sandbox.thoughtindustries``) all
import these constants, so changing one here changes both sides at once.

A1  Upload. ``bulkImportAssetPath`` is a location Thought Industries can read: the absolute
    file path of a ``file://`` asset store, or the URL of an http(s) asset store we PUT the
    file to. Based on: "the storage path to the asset file" [T1]; the users bulk import takes
    a ``url`` to a CSV file [T6]. No upload endpoint or pre-signed flow was found.
A2  Format. The asset is a UTF-8 CSV (RFC 4180 quoting, comma-separated, one header row),
    list values joined by ``;``. Based on: the admin UI's VILT bulk import uses a CSV
    template [T7]; ``;`` is what coursesync's own CSV catalogs use for lists.
A3  Columns. Exactly ``COLUMNS``, in that order; ``REQUIRED_COLUMNS`` must be non-empty, and
    ``courseGroup`` too for ``session/*`` contents (a course group must exist before its
    sessions are imported [T7]). Our choice: the real template's columns are unpublished.
A4  Row key. ``KEY_COLUMN`` holds our item id; Thought Industries creates or updates by it,
    so re-importing a row updates it. Based on: the UI "creates or updates" course groups
    [T7], which needs a key column.
A5  Dry run. Requested by the body field ``DRY_RUN_FIELD: true``; a full import sends the
    documented body only. A dry run's ``backgroundJob`` (if any) imports nothing and is
    ignored. Based on: ``dryRun`` is echoed in the response [T1] and is a body field of
    ``POST /incoming/v2/users/bulkImport`` [T6].
A6  Rows in answers. ``validRows``/``invalidRows`` entries are the row's columns as strings;
    an invalid row also carries ``ROW_ERROR_FIELD`` (why it was refused). Rows are matched to
    our items by ``KEY_COLUMN``. The docs show only ``[{}]``.
A7  Job statuses. ``JOB_DONE_STATUSES`` end well, ``JOB_FAILED_STATUSES`` end badly, any
    other value means still running; a done status with a non-empty ``errorMessage`` is a
    failure. Based on: only ``complete`` is shown; errorMessage "holds the failure" [T9].
A8  Results. No per-row results exist after the job: once it is done without an
    errorMessage every imported row counts as succeeded; a failed job fails all its rows
    with its errorMessage.
A9  Errors and deactivation. Error bodies other than 429 are ``{"error": code, "message":
    text}`` like the documented 429 body [T10]. Nothing documents deactivating content, so
    coursesync does not try: inactive items are refused with ``DEACTIVATION_UNSUPPORTED``.
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "CONTENTS",
    "CSV_DELIMITER",
    "DEACTIVATION_UNSUPPORTED",
    "DRY_RUN_FIELD",
    "GROUP_COLUMN",
    "JOB_DONE_STATUSES",
    "JOB_FAILED_STATUSES",
    "JOB_RUNNING_STATUS",
    "KEY_COLUMN",
    "LIST_SEPARATOR",
    "REQUIRED_COLUMNS",
    "ROW_ERROR_FIELD",
]

# --- documented [C*], not assumed: the four bulk contents and their response keys [T1]-[T5]
#: ``content`` connection option -> the key under ``data`` in the bulk import's answer.
CONTENTS: dict[str, str] = {
    "courseGroup/webinar": "APIBulkCourseGroupWebinarImport",
    "session/webinar": "APIBulkWebinarImport",
    "courseGroup/inPersonEvent": "APIBulkCourseGroupInPersonEventImport",
    "session/inPersonEvent": "APIBulkInPersonEventImport",
}

# --- A2 format
CSV_DELIMITER = ","
LIST_SEPARATOR = ";"

# --- A3 columns, A4 row key
KEY_COLUMN = "externalId"
#: The course group (its ``KEY_COLUMN`` value) a session belongs to; empty for course groups.
GROUP_COLUMN = "courseGroup"
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

# --- A5 dry run
DRY_RUN_FIELD = "dryRun"

# --- A6 rows in answers
ROW_ERROR_FIELD = "error"

# --- A7 job statuses
JOB_DONE_STATUSES = frozenset({"complete"})
JOB_FAILED_STATUSES = frozenset({"failed", "error", "cancelled"})
#: What the sandbox reports while a job runs (the client accepts any non-terminal value).
JOB_RUNNING_STATUS = "running"

# --- A9 deactivation
DEACTIVATION_UNSUPPORTED = "Thought Industries has no documented way to deactivate content"
