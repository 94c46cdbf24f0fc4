"""The one project ``Schema`` base: unknown fields are refused, strings are bounded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import marshmallow as ma
from marshmallow import fields, validate

NUL_MESSAGE = "Must not contain NUL characters."

T = TypeVar("T")


class Schema(ma.Schema):
    """Every wire schema derives from this: unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def _refuse_nul_characters(self, data: Any, **_kwargs: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text, so such a string would fail deep inside a
        # query as a server error; it is refused here, per field, as the invalid input it is.
        if isinstance(data, Mapping):
            bad = {str(key): [NUL_MESSAGE] for key in data if _has_nul(data[key])}
            if bad:
                raise ma.ValidationError(bad)
        return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


# Not slots: ``Items[X](...)`` sets ``__orig_class__``, which a slotted frozen class refuses.
@dataclass(frozen=True)
class Items(Generic[T]):
    """A whole list as a view answers it, ``{"items": [...]}``: a schema with an ``items`` field
    dumps it as it is (paged lists are ``core.pages.Page``)."""

    items: Sequence[T]


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
