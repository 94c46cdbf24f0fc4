"""Wire format of partner agencies and their API keys. No dump schema carries a secret except
``IssuedKeySchema``, which is answered once, to the admin who issued the key."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from auth.partners.agencies import AGENCY_KINDS
from auth.partners.keys import MAX_KEY_DAYS, PARTNER_SCOPES
from core.schemas import Schema, integer, text

_SCOPES_DOC = "; ".join(f"`{name}`: {doc}" for name, doc in PARTNER_SCOPES.items())


class AgencyCreateSchema(Schema):
    name = text(200)
    kind = fields.String(required=True, validate=validate.OneOf(AGENCY_KINDS))
    contact = text(
        500,
        required=False,
        allow_none=True,
        metadata={"description": "How the service reaches the agency (a desk, not a person)"},
    )


class AgencyUpdateSchema(Schema):
    name = text(200, required=False)
    kind = fields.String(validate=validate.OneOf(AGENCY_KINDS))
    contact = text(500, required=False, allow_none=True)


class AgencySchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    contact = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    disabled_at = fields.DateTime(allow_none=True)


class AgencyListSchema(Schema):
    items = fields.List(fields.Nested(AgencySchema), required=True)


def _scope_list(**kwargs: Any) -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.OneOf(tuple(PARTNER_SCOPES))),
        validate=validate.Length(min=1, max=len(PARTNER_SCOPES)),
        metadata={"description": "Scopes the key carries. " + _SCOPES_DOC, "uniqueItems": True},
        **kwargs,
    )


class KeyCreateSchema(Schema):
    scopes = _scope_list(required=True)
    expires_in_days = integer(
        required=False,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_KEY_DAYS),
        metadata={"description": "Lifetime in days; without it the key lives until revoked"},
    )

    @validates("scopes")
    def _no_duplicates(self, value: list[str], **_kwargs: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Each scope may be named once.")


class KeySchema(Schema):
    key_id = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(("active", "rotating", "expired", "revoked")),
        metadata={"description": "`rotating`: replaced, still valid until expires_at"},
    )
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    replaced_by = fields.String(allow_none=True, metadata={"description": "key_id of successor"})


class KeyListSchema(Schema):
    items = fields.List(fields.Nested(KeySchema), required=True)


class IssuedKeySchema(Schema):
    key_id = fields.String(required=True)
    api_key = fields.String(
        required=True,
        metadata={"description": "`pk_<key_id>.<secret>`: shown this once, never again"},
    )
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    replaces = fields.String(allow_none=True, metadata={"description": "key_id rotated out"})
    replaced_key_expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "When the rotated-out key stops working"}
    )


class PartnerMeSchema(Schema):
    agency_id = fields.UUID(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    key_id = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
