"""The HTTP API's requests and answers (``api``): the one source of its validation and, through
flask-smorest, of its OpenAPI document (``/v1/openapi.json``, committed as ``api/openapi.json``).

Field names follow product.md's run document; the schemas only describe and check, they call
nothing.
"""

from __future__ import annotations

from datetime import UTC

from marshmallow import RAISE, Schema, fields, validate

__all__ = [
    "FailuresQuerySchema",
    "FailuresSchema",
    "ItemChangesSchema",
    "ItemPageSchema",
    "ItemStatusSchema",
    "ItemsQuerySchema",
    "ProblemSchema",
    "ReceiptSchema",
    "RunListSchema",
    "RunQuerySchema",
    "RunSchema",
    "StartRunSchema",
    "TimelineSchema",
    "UploadQuerySchema",
]

RUN_STATES = ("queued", "running", "paused", "completed", "completed_with_errors", "failed", "cancelled")
FORMATS = ("jsonl", "json", "csv")
_NAME = validate.Length(min=1, max=200)
#: An absolute http(s) URL of ASCII host labels: the same regular expression checks requests and
#: is the document's ``pattern``, so a client generating from the document is never refused.
#: (Whether the address may be fetched is the workers' outbound policy's call, at fetch time.)
URL_PATTERN = (
    r"^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?$"
)


def _url(description: str, *, required: bool = False) -> fields.Str:
    return fields.Str(
        required=required,
        validate=[
            validate.Length(max=4000),
            validate.Regexp(URL_PATTERN, error="must be an absolute http(s) URL"),
        ],
        metadata={"description": description},
    )


_LIMIT = fields.Int(
    load_default=50,
    validate=validate.Range(min=1, max=500),
    metadata={"description": "at most this many per page (1-500)"},
)
_CURSOR = fields.Str(
    validate=validate.Length(min=1, max=500), metadata={"description": "next_cursor of the previous page"}
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class ProblemErrorSchema(Schema):
    field = fields.Str(metadata={"description": "where: a JSON field, query parameter or header"})
    reason = fields.Str()


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the fields at fault in ``errors``."""

    type = fields.Str()
    title = fields.Str()
    status = fields.Int()
    detail = fields.Str()
    instance = fields.Str()
    errors = fields.List(fields.Nested(ProblemErrorSchema))


class _SyncOptionsSchema(_Strict):
    full = fields.Bool(load_default=False, metadata={"description": "resend unchanged items too"})
    prune = fields.Bool(
        load_default=False, metadata={"description": "deactivate items missing from the catalog"}
    )
    force_prune = fields.Bool(load_default=False, metadata={"description": "prune past the 10% guard"})
    priority = fields.Str(validate=validate.OneOf(("normal", "low")))
    format = fields.Str(
        validate=validate.OneOf(FORMATS),
        metadata={"description": "default: from the URL's extension or the Content-Type"},
    )


class StartRunSchema(_SyncOptionsSchema):
    connection = fields.Str(required=True, validate=_NAME)
    source_url = _url("a catalog the workers can fetch (public address)", required=True)
    webhook_url = _url("receives the final run document")


class UploadQuerySchema(_SyncOptionsSchema):
    pass


class _CountsSchema(Schema):
    total = fields.Int()
    invalid = fields.Int()
    unchanged = fields.Int()
    excluded = fields.Int(metadata={"description": "left out by the connection's entitlement filter"})
    submitted = fields.Int()
    succeeded = fields.Int()
    failed = fields.Int()
    pending = fields.Int()


class _BatchCountsSchema(Schema):
    total = fields.Int()
    pending = fields.Int()
    submitted = fields.Int()
    completed = fields.Int()
    failed = fields.Int()
    split = fields.Int()


class ItemErrorSchema(Schema):
    item_id = fields.Str()
    stage = fields.Str(metadata={"description": "validation | provider"})
    code = fields.Str()
    message = fields.Str()
    field = fields.Str()
    line = fields.Int()


class _CancelSchema(Schema):
    not_sent = fields.Int(metadata={"description": "batches failed with coursesync.CANCELLED"})
    not_sent_items = fields.Int()
    in_flight = fields.Int(metadata={"description": "batches at the provider, tracked to their end"})


class RunSchema(Schema):
    """The run document of product.md."""

    run_id = fields.Str(required=True)
    connection = fields.Str(required=True)
    provider = fields.Str(required=True)
    state = fields.Str(required=True, validate=validate.OneOf(RUN_STATES))
    paused = fields.Bool()
    cancel_requested_at = fields.Str()
    cancel = fields.Nested(_CancelSchema, metadata={"description": "what a cancel just did"})
    counts = fields.Nested(_CountsSchema, required=True)
    batches = fields.Nested(_BatchCountsSchema, required=True)
    errors = fields.List(
        fields.Nested(ItemErrorSchema),
        metadata={"description": "the first 100; page through all with /items"},
    )
    created_at = fields.Str(required=True)
    finished_at = fields.Str(allow_none=True)
    target = fields.Str()
    target_label = fields.Str()
    reason = fields.Str(metadata={"description": "why the run failed as a whole"})
    parent = fields.Str(metadata={"description": "the fan-out this run is one connection's part of"})
    webhook = fields.Str()
    splits = fields.Dict(keys=fields.Str(), values=fields.Int())
    options = fields.Dict(keys=fields.Str())
    prune = fields.Dict(keys=fields.Str())


class RunQuerySchema(_Strict):
    connection = fields.Str(validate=_NAME)
    state = fields.Str(validate=validate.OneOf(RUN_STATES))
    provider = fields.Str(validate=_NAME, metadata={"description": "only runs to this provider"})
    limit = _LIMIT
    cursor = _CURSOR


class RunListSchema(Schema):
    runs = fields.List(fields.Nested(RunSchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class ItemsQuerySchema(_Strict):
    state = fields.Str(load_default="failed", validate=validate.OneOf(("failed", "invalid", "all")))
    code = fields.Str(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "only items with an error of this code (a reason of /v1/failures)"},
    )
    field = fields.Str(
        validate=validate.Length(max=200),
        metadata={"description": "with code: only errors on this field (empty: errors of no field)"},
    )
    limit = _LIMIT
    cursor = _CURSOR


class _FailedItemSchema(Schema):
    item_id = fields.Str(required=True)
    errors = fields.List(fields.Nested(ItemErrorSchema), required=True)


class ItemPageSchema(Schema):
    items = fields.List(fields.Nested(_FailedItemSchema), required=True)
    next_cursor = fields.Str(allow_none=True, required=True)


class _TimelinePointSchema(Schema):
    t = fields.Int(required=True, metadata={"description": "the bucket's start, epoch seconds"})
    succeeded = fields.Int(required=True)
    failed = fields.Int(required=True)
    requests = fields.Int(required=True, metadata={"description": "provider requests answered"})
    throttled = fields.Int(required=True, metadata={"description": "of which HTTP 429"})


class TimelineSchema(Schema):
    """A run's items settled and requests sent per time bucket, oldest first."""

    run_id = fields.Str(required=True)
    bucket_s = fields.Int(required=True, metadata={"description": "width of each bucket"})
    points = fields.List(fields.Nested(_TimelinePointSchema), required=True)


class FailuresQuerySchema(_Strict):
    connection = fields.Str(validate=_NAME)
    since = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "runs created since (ISO 8601; default: 7 days ago)"},
    )


class _ReasonSchema(Schema):
    stage = fields.Str(required=True, metadata={"description": "validation | provider"})
    code = fields.Str(required=True)
    field = fields.Str(required=True, metadata={"description": "the field at fault (validation), or empty"})
    message = fields.Str(required=True, metadata={"description": "one sample message"})
    count = fields.Int(required=True, metadata={"description": "error records with this reason"})
    runs = fields.Int(required=True, metadata={"description": "runs with this reason"})
    run_ids = fields.List(fields.Str(), required=True, metadata={"description": "the newest few"})


class FailuresSchema(Schema):
    """Failures by reason across runs, most frequent first."""

    reasons = fields.List(fields.Nested(_ReasonSchema), required=True)
    since = fields.Str(required=True)
    runs_scanned = fields.Int(required=True)
    truncated = fields.Bool(
        required=True, metadata={"description": "more runs matched: the sums cover the newest 5,000"}
    )


class ItemChangesSchema(_Strict):
    upserts = fields.List(
        fields.Dict(keys=fields.Str()),
        validate=validate.Length(max=1000),
        load_default=list,
        metadata={"description": "catalog items (product.md's fields), whole"},
    )
    deletes = fields.List(
        fields.Str(validate=validate.Length(min=1, max=255)),
        validate=validate.Length(max=1000),
        load_default=list,
        metadata={"description": "item ids to deactivate at the provider"},
    )


class ReceiptSchema(Schema):
    accepted = fields.Int(required=True)
    invalid = fields.List(fields.Nested(ItemErrorSchema), required=True)
    window_s = fields.Float(
        required=True, metadata={"description": "changes are sent within about this long"}
    )


class ItemStatusSchema(Schema):
    item_id = fields.Str(required=True)
    op = fields.Str(allow_none=True, metadata={"description": "upsert or deactivate"})
    connection = fields.Str(required=True)
    state = fields.Str(required=True)
    at = fields.Str(allow_none=True)
    run_id = fields.Str(allow_none=True)
    remote_id = fields.Str(allow_none=True)
    code = fields.Str(allow_none=True)
    message = fields.Str(allow_none=True)
