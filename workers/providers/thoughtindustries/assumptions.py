"""Every Thought Industries behaviour coursesync ASSUMES, in one place (client and CSV mapping).

Thought Industries documents its content bulk imports only as far as the request
``{"bulkImportAssetPath": "<string>"}``, the response
``{"data": {"<ResponseKey>": {dryRun, validRows, invalidRows, backgroundJob}}}`` and the job
poll ``GET /incoming/v2/jobs/{id}`` (providers.md §4, sources [T1]-[T11], marked [C*]: the
developer pages look templated). Everything below is NOT documented publicly. Each point is
one assumption, named A1..A9; the client (``client`` and ``answers`` of this package) and the
CSV mapping (``mapping``) import these constants. The sandbox (``sandbox/providers/thoughtindustries/``)
keeps its own, written from providers.md §4, so a wrong guess here is not silently shared by
the fake that tests it.

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
A6  Rows in answers. ``invalidRows`` is a list (anything else: the answer is unreadable);
    ``validRows`` is not relied on. An entry is matched to exactly one row of the asset the
    call was given (our items, in order), by every means below; the means present must agree
    and name a row of that asset, or the entry is unmatched:
    - the key column ``KEY_COLUMN`` at the top level, or inside a nested row object under one
      of ``NESTED_ROW_FIELDS`` (``{"row": {"externalId": ...}}``); a key naming no row of the
      asset makes the entry unmatched;
    - an id-like field of ``ID_FIELDS`` at the top level; only a value naming a row of the
      asset counts (others may be Thought Industries' own ids and are ignored);
    - a position, an integer or a string of digits: ``ROW_NUMBER_FIELDS`` count data rows
      from 1 (the header is not counted), ``ROW_INDEX_FIELDS`` count them from 0, and
      ``LINE_FIELDS`` count the file's lines from 1 with the header on line 1 (data row n is
      line n + 1), usable only when no cell holds a line break; ``row`` holding an object is
      the nested row, not a number.
    Its reason is the first of ``ROW_ERROR_FIELDS`` found at the top level, then in the nested
    row. If ANY entry stays unmatched, no row of that answer counts as succeeded: every row of
    the batch fails (matched ones with their reason, the others ``UNVERIFIED``), no import
    follows a dry run, and an import's job is not polled. The docs show only ``[{}]``.
A7  Job statuses. ``data.APIBackgroundJob`` is an object with a string ``status`` (else the
    answer is unreadable). ``JOB_DONE_STATUSES`` end well, ``JOB_FAILED_STATUSES`` end badly,
    any other value means still running; a done status succeeds only with an ``errorMessage``
    that is present and empty (or null): a non-empty one is a failure, a missing or non-string
    one is unreadable. Based on: only ``complete`` is shown; errorMessage "holds the failure" [T9].
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
    "ID_FIELDS",
    "JOB_DONE_STATUSES",
    "JOB_FAILED_STATUSES",
    "KEY_COLUMN",
    "LINE_FIELDS",
    "LIST_SEPARATOR",
    "NESTED_ROW_FIELDS",
    "REQUIRED_COLUMNS",
    "ROW_ERROR_FIELD",
    "ROW_ERROR_FIELDS",
    "ROW_INDEX_FIELDS",
    "ROW_NUMBER_FIELDS",
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
#: Where an invalid row's reason may be, first found wins.
ROW_ERROR_FIELDS: tuple[str, ...] = (ROW_ERROR_FIELD, "errors", "message", "reason")
#: Names of a nested object holding the row's columns.
NESTED_ROW_FIELDS: tuple[str, ...] = ("row", "data", "values", "record", "fields")
#: Top-level fields that may hold the row's key under another name.
ID_FIELDS: tuple[str, ...] = ("id", "external_id", "externalID", "key")
#: 1-based position among the asset's data rows (the header is not a row).
ROW_NUMBER_FIELDS: tuple[str, ...] = ("rowNumber", "row_number", "row")
#: 0-based position among the asset's data rows.
ROW_INDEX_FIELDS: tuple[str, ...] = ("rowIndex", "row_index", "index")
#: 1-based line of the asset file, the header being line 1.
LINE_FIELDS: tuple[str, ...] = ("line", "lineNumber", "line_number")

# --- A7 job statuses
JOB_DONE_STATUSES = frozenset({"complete"})
JOB_FAILED_STATUSES = frozenset({"failed", "error", "cancelled"})

# --- A9 deactivation
DEACTIVATION_UNSUPPORTED = "Thought Industries has no documented way to deactivate content"
