"""The HTTP API's connections: their settings as written and read, their pause, their budgets
and status at a glance (``api.routes.connections``, ``api.routes.insights``)."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from schemas.api import _NAME, RunSchema, _url

__all__ = [
    "BudgetSchema",
    "ConnectionCreateSchema",
    "ConnectionListSchema",
    "ConnectionSchema",
    "ConnectionStatusSchema",
    "ConnectionWriteSchema",
    "PauseSchema",
]


class _MemberSchema(Schema):
    name = fields.Str(required=True)
    weight = fields.Float(required=True)
    waiting = fields.Int(required=True, metadata={"description": "batches waiting for the budget"})
    waiting_low = fields.Int(required=True, metadata={"description": "of which scheduled resyncs'"})
    in_flight = fields.Int(required=True)
    own_cap = fields.List(fields.Str(), required=True)
    learned_cap = fields.Int(allow_none=True, required=True)
    share = fields.Float(required=True)


class BudgetSchema(Schema):
    """One provider budget the connection spends (what `coursesync limits --json` prints)."""

    id = fields.Str(required=True)
    provider = fields.Str(required=True)
    bucket = fields.Str(required=True)
    windows = fields.List(fields.Str(), required=True, metadata={"description": "the limits"})
    paused_s = fields.Float(required=True)
    pause_reason = fields.Str(allow_none=True, required=True)
    used_last_minute = fields.Int(required=True)
    use_per_10s = fields.List(fields.Int(), required=True, metadata={"description": "last 10 minutes"})
    waiting_connections = fields.Int(required=True)
    job_slots = fields.List(fields.Int(), allow_none=True, metadata={"description": "[held, limit]"})
    members = fields.List(fields.Nested(_MemberSchema), required=True)


class _ScheduleStateSchema(Schema):
    every_s = fields.Float(allow_none=True, required=True)
    cron = fields.Str(allow_none=True, required=True)
    last_fired_at = fields.Str(allow_none=True, required=True)
    last_run_id = fields.Str(allow_none=True, required=True)
    last_outcome = fields.Str(allow_none=True, required=True)
    next_due_at = fields.Str(required=True)


class ConnectionStatusSchema(Schema):
    """A connection at a glance: its last run, its schedule and its budgets."""

    connection = fields.Str(required=True)
    provider = fields.Str(required=True)
    last_run = fields.Nested(RunSchema, allow_none=True, required=True)
    schedule = fields.Nested(_ScheduleStateSchema, allow_none=True, required=True)
    budgets = fields.List(fields.Nested(BudgetSchema), required=True)


class ConnectionWriteSchema(Schema):
    """One ``[connections.NAME]`` table of the configuration file, as JSON. Secrets are write-only:
    on an update, a secret left out keeps its stored value and one set to null is removed."""

    class Meta:
        unknown = INCLUDE  # the provider's own settings (api_key, integration_id...): checked by provider

    provider = fields.Str(required=True, validate=_NAME)
    base_url = _url("the provider's documented server prefix", required=True)
    schedule = fields.Dict(keys=fields.Str())


class ConnectionCreateSchema(ConnectionWriteSchema):
    name = fields.Str(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,62}$", error="lower-case letters, digits, . _ -"),
    )


class ConnectionSchema(Schema):
    name = fields.Str(required=True)
    provider = fields.Str(required=True)
    base_url = fields.Str(required=True)
    source = fields.Str(required=True, metadata={"description": "file (the TOML file) or api"})
    version = fields.Int(allow_none=True, metadata={"description": "changes with every update (api only)"})
    paused = fields.Bool(required=True)
    settings = fields.Dict(
        keys=fields.Str(), metadata={"description": 'its other settings; secrets shown as {"set": true}'}
    )


class ConnectionListSchema(Schema):
    connections = fields.List(fields.Nested(ConnectionSchema), required=True)


class PauseSchema(Schema):
    connection = fields.Str(required=True)
    paused = fields.Bool(required=True)
