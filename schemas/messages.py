"""Task messages: small JSON dicts of ids. A message that does not fit is a PayloadError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

__all__ = ["SubmitBatch", "SyncCatalog", "load_message"]


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


class _SubmitBatchSchema(Schema):
    class Meta:
        unknown = RAISE

    batch_id = fields.Str(required=True, validate=validate.Length(min=1, max=300))
    connection = fields.Str(required=True, validate=validate.Length(min=1, max=200))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SubmitBatch:
        return SubmitBatch(**data)


class _SyncCatalogSchema(Schema):
    class Meta:
        unknown = RAISE

    connection = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    source_url = fields.Str(required=True, validate=validate.Length(min=1))
    full = fields.Bool()
    prune = fields.Bool()

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SyncCatalog:
        return SyncCatalog(**data)


_SCHEMAS: dict[type, Schema] = {
    SubmitBatch: _SubmitBatchSchema(),
    SyncCatalog: _SyncCatalogSchema(),
}


def load_message(kind: type[Any], data: dict[str, Any]) -> Any:
    """Validate a task's keyword arguments into its message dataclass."""
    from workers.errors import PayloadError

    try:
        return _SCHEMAS[kind].load(data)
    except ValidationError as exc:
        raise PayloadError(f"bad {kind.__name__} message: {exc.messages}") from None


def dump_message(message: Any) -> dict[str, Any]:
    return dict(_SCHEMAS[type(message)].dump(message))
