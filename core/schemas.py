"""The one project ``Schema`` base: unknown fields are refused, strings are bounded."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate


class Schema(ma.Schema):
    """Every wire schema derives from this: unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


def text(
    max_length: int, *, required: bool = True, min_length: int = 1, **kwargs: Any
) -> fields.String:
    """A bounded string field (every string on the wire has a maximum length)."""
    return fields.String(
        required=required, validate=validate.Length(min=min_length, max=max_length), **kwargs
    )


def integer(*, required: bool = True, **kwargs: Any) -> fields.Integer:
    """A strict integer: ``2.5`` and ``"2"`` are refused rather than coerced."""
    return fields.Integer(required=required, strict=True, **kwargs)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error is answered."""

    type = fields.String(required=True, metadata={"description": "Stable URI naming the problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    request_id = fields.String()
    errors = fields.Dict(metadata={"description": "Field errors for validation problems"})
