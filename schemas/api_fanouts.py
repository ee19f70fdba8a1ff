"""The HTTP API's fan-out documents: one catalog to many connections (``/v1/fanouts``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.api import RUN_STATES, _SyncOptionsSchema, _url

__all__ = ["FanoutSchema", "StartFanoutSchema"]

FANOUT_STATES = ("reading", "running", *RUN_STATES)


class StartFanoutSchema(_SyncOptionsSchema):
    connections = fields.List(
        fields.Str(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={
            "description": "connection names, globs (acme-*) and groups (@customers, from the config's "
            "[groups]); a glob or group names those among them this token may touch"
        },
    )
    source_url = _url("a catalog the workers can fetch (public address)", required=True)


class _FanoutRunSchema(Schema):
    run_id = fields.Str(required=True)
    connection = fields.Str(required=True)
    provider = fields.Str(required=True)
    state = fields.Str(required=True, validate=validate.OneOf(RUN_STATES))
    counts = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)


class FanoutSchema(Schema):
    """A fan-out: its runs (one per connection) and their counts summed."""

    fanout_id = fields.Str(required=True)
    state = fields.Str(required=True, validate=validate.OneOf(FANOUT_STATES))
    source = fields.Str()
    created_at = fields.Str()
    read_at = fields.Str(allow_none=True)
    items = fields.Int(metadata={"description": "catalog records read (once, for every run)"})
    counts = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)
    runs_by_state = fields.Dict(keys=fields.Str(), values=fields.Int())
    runs = fields.List(fields.Nested(_FanoutRunSchema), required=True)
    options = fields.Dict(keys=fields.Str())
    reason = fields.Str(metadata={"description": "why the catalog could not be read"})
