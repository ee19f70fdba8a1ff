"""The HTTP API's tokens: what an admin asks for, and what it is shown (``api.routes.tokens``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.api import _Strict

__all__ = ["SCOPES", "TokenCreateSchema", "TokenListSchema", "TokenSchema"]

SCOPES = ("read", "write", "admin")


class TokenCreateSchema(_Strict):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    scopes = fields.List(
        fields.Str(validate=validate.OneOf(SCOPES)), required=True, validate=validate.Length(min=1)
    )
    connections = fields.List(
        fields.Str(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": 'names or glob patterns; ["*"] is every one'},
    )


class TokenSchema(Schema):
    id = fields.Str(required=True)
    name = fields.Str(required=True)
    scopes = fields.List(fields.Str(), required=True)
    connections = fields.List(fields.Str(), required=True)
    created_at = fields.Str(required=True)
    token = fields.Str(metadata={"description": "only when created: store it, it is never shown again"})


class TokenListSchema(Schema):
    tokens = fields.List(fields.Nested(TokenSchema), required=True)
