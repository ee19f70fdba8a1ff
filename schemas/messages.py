"""Task messages: small JSON dicts of ids, one schema per task. A message that does not fit is a
``MessageError`` (the task layer reports it as a PayloadError, never retried).

Every task of ``workers.ports`` loads its arguments through one of these, so a message from
any language (a Go service speaking Celery's protocol, a mistyped manual send) is checked at the
door and named in the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

__all__ = [
    "FanoutPart",
    "FlushChanges",
    "MessageError",
    "NotifyRun",
    "Ping",
    "ScheduledSync",
    "StartFanout",
    "StartRun",
    "SubmitBatch",
    "SyncCatalog",
    "Tick",
    "load_message",
]

_ID = validate.Length(min=1, max=300)
_NAME = validate.Length(min=1, max=200)


class MessageError(ValueError):
    """A task's arguments do not match its message schema."""


@dataclass(frozen=True)
class SubmitBatch:
    batch_id: str
    connection: str


@dataclass(frozen=True)
class SyncCatalog:
    connection: str
    source_url: str
    full: bool = False
    prune: bool = False


@dataclass(frozen=True)
class ScheduledSync:
    connection: str
    run_id: str


@dataclass(frozen=True)
class StartRun:
    """A run the API recorded in advance: where its catalog is and how to sync it are in the run
    record (sealed where they hold credentials), never in the message."""

    run_id: str


@dataclass(frozen=True)
class StartFanout:
    """A fan-out the API recorded: its source, options and runs are in its record."""

    fanout_id: str


@dataclass(frozen=True)
class FanoutPart:
    """One connection's part of a fan-out whose catalog is read: diff and send its run."""

    fanout_id: str
    run_id: str


@dataclass(frozen=True)
class FlushChanges:
    """``connection``: flush its waiting changes; None (beat): flush those that waited too long."""

    connection: str | None = None


@dataclass(frozen=True)
class NotifyRun:
    run_id: str


@dataclass(frozen=True)
class Ping:
    token: str


@dataclass(frozen=True)
class Tick:
    """Beat's periodic tasks take no argument."""


class _Strict(Schema):
    class Meta:
        unknown = RAISE

    message: type = Tick

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Any:
        return self.message(**data)


class _SubmitBatchSchema(_Strict):
    message = SubmitBatch
    batch_id = fields.Str(required=True, validate=_ID)
    connection = fields.Str(required=True, validate=_NAME)


class _SyncCatalogSchema(_Strict):
    message = SyncCatalog
    connection = fields.Str(required=True, validate=_NAME)
    source_url = fields.Str(required=True, validate=validate.Length(min=1))
    full = fields.Bool()
    prune = fields.Bool()


class _ScheduledSyncSchema(_Strict):
    message = ScheduledSync
    connection = fields.Str(required=True, validate=_NAME)
    run_id = fields.Str(required=True, validate=_ID)


class _StartRunSchema(_Strict):
    message = StartRun
    run_id = fields.Str(required=True, validate=_ID)


class _StartFanoutSchema(_Strict):
    message = StartFanout
    fanout_id = fields.Str(required=True, validate=_ID)


class _FanoutPartSchema(_Strict):
    message = FanoutPart
    fanout_id = fields.Str(required=True, validate=_ID)
    run_id = fields.Str(required=True, validate=_ID)


class _FlushChangesSchema(_Strict):
    message = FlushChanges
    connection = fields.Str(validate=_NAME)


class _NotifyRunSchema(_Strict):
    message = NotifyRun
    run_id = fields.Str(required=True, validate=_ID)


class _PingSchema(_Strict):
    message = Ping
    token = fields.Str(required=True, validate=_ID)


_SCHEMAS: dict[type, Schema] = {
    SubmitBatch: _SubmitBatchSchema(),
    SyncCatalog: _SyncCatalogSchema(),
    ScheduledSync: _ScheduledSyncSchema(),
    StartRun: _StartRunSchema(),
    StartFanout: _StartFanoutSchema(),
    FanoutPart: _FanoutPartSchema(),
    NotifyRun: _NotifyRunSchema(),
    FlushChanges: _FlushChangesSchema(),
    Ping: _PingSchema(),
    Tick: _Strict(),
}


def load_message(kind: type[Any], data: dict[str, Any]) -> Any:
    """Validate a task's keyword arguments into its message dataclass."""
    try:
        return _SCHEMAS[kind].load(data)
    except ValidationError as exc:
        raise MessageError(f"bad {kind.__name__} message: {exc.messages}") from None
