"""Wire formats of the survivor identity endpoints.

Nothing here can tell a decoy session from a real one: no schema has a field for it.
"""

from __future__ import annotations

from marshmallow import fields

from auth.survivors.pins import MAX_PIN
from core.schemas import Schema, text

_PIN_DOC = {
    "description": "At least 6 digits (not trivially guessable), or a passphrase of at least "
    "12 characters; at most 128.",
}


class EnrollmentCodeSchema(Schema):
    code = fields.String(
        required=True,
        metadata={
            "description": "Single-use code to type into the app",
            "example": "7KQ2-M9XD-4TBN",
        },
    )
    expires_at = fields.DateTime(required=True)


class SurvivorEnrollSchema(Schema):
    code = text(32, metadata={"description": "The enrollment code (dashes and spaces ignored)"})
    pin = text(MAX_PIN, metadata=_PIN_DOC)
    duress_pin = text(
        MAX_PIN,
        required=False,
        load_default=None,
        allow_none=True,
        metadata={"description": "Optional second PIN that opens a decoy and alerts the advocate"},
    )
    device_label = text(100, required=False, load_default=None, allow_none=True)


class SurvivorLoginSchema(Schema):
    account_handle = text(64, metadata={"description": "The handle returned at enrollment"})
    pin = text(MAX_PIN)
    device_label = text(100, required=False, load_default=None, allow_none=True)


class SurvivorRefreshSchema(Schema):
    refresh_token = text(128)


class SurvivorTokensSchema(Schema):
    access_token = fields.String(required=True, metadata={"description": "Bearer token (sa_...)"})
    refresh_token = fields.String(
        required=True, metadata={"description": "Single-use refresh token (sr_...)"}
    )
    access_expires_at = fields.DateTime(required=True)


class SurvivorEnrolledSchema(SurvivorTokensSchema):
    account_handle = fields.String(
        required=True, metadata={"description": "What the app logs in with; keep it on the device"}
    )


class SurvivorPinChangeSchema(Schema):
    current_pin = text(MAX_PIN)
    new_pin = text(MAX_PIN, metadata=_PIN_DOC)


class SurvivorDuressPinSchema(Schema):
    current_pin = text(MAX_PIN)
    duress_pin = text(
        MAX_PIN,
        allow_none=True,
        metadata={"description": "The new duress PIN, or null to remove it"},
    )


class SurvivorDeviceSchema(Schema):
    id = fields.UUID(required=True)
    label = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    current = fields.Boolean(required=True, metadata={"description": "The device asking"})
