"""Wire formats of the staff endpoints. No dump schema carries a stored credential; the only
secrets that leave are newly issued ones, once, to their owner."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from auth.staff.models import ROLES
from auth.staff.notices import MAX_PAGE as MAX_NOTICE_PAGE
from auth.staff.passwords import MAX_LENGTH
from core.notices import URGENCIES
from core.pages import PageQuerySchema, PageSchema, limit_field
from core.schemas import Schema, text

# Long enough for any code format a person might paste (spaces, hyphens), short enough to
# bound the work done on it.
_CODE_MAX = 32
_CODE_DOC = "Authenticator code (give this or `recovery_code`, not both)"
_RECOVERY_DOC = "One of the ten recovery codes (instead of `code`)"


def _name(*, required: bool = True) -> fields.String:
    """A display name: 1 to 100 characters, not only blanks."""
    return fields.String(
        required=required, validate=[validate.Length(min=1, max=100), validate.Regexp(r"\s*\S")]
    )


def _email(**kwargs: Any) -> fields.Email:
    return fields.Email(required=True, validate=validate.Length(max=254), **kwargs)


# --- login ----------------------------------------------------------------------------------


class StaffLoginSchema(Schema):
    email = text(254)
    # No minimum beyond one character: a short password simply fails like a wrong one.
    password = text(MAX_LENGTH, metadata={"format": "password"})


class StaffLoginTicketSchema(Schema):
    login_token = fields.String(
        required=True,
        metadata={
            "description": "For POST /v1/staff/login/code, or as the bearer token of "
            "the enrolment endpoints when `next` is `enroll`."
        },
    )
    next = fields.String(required=True, validate=validate.OneOf(["code", "enroll"]))
    expires_at = fields.DateTime(required=True)


class StaffLoginCodeSchema(Schema):
    login_token = text(100)
    # Exactly one of the two; anything else fails like a wrong code.
    code = text(_CODE_MAX, required=False, metadata={"description": _CODE_DOC})
    recovery_code = text(_CODE_MAX, required=False, metadata={"description": _RECOVERY_DOC})


class StaffSessionTokenSchema(Schema):
    session_token = fields.String(required=True, metadata={"description": "Bearer token"})
    expires_at = fields.DateTime(required=True)


# --- enrolment ------------------------------------------------------------------------------


class StaffTotpProvisioningSchema(Schema):
    otpauth_uri = fields.String(required=True)
    qr_svg = fields.String(required=True, metadata={"description": "Inline SVG QR code"})


class StaffCodeSchema(Schema):
    code = text(_CODE_MAX)


class StaffEnrolmentResultSchema(Schema):
    recovery_codes = fields.List(fields.String(), required=True)
    session_token = fields.String(
        required=True,
        metadata={
            "description": "A new full-session bearer token; the enrolment token stops working."
        },
    )
    expires_at = fields.DateTime(required=True)


# --- self-service ---------------------------------------------------------------------------


class StaffMeSchema(Schema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True)
    enrolled = fields.Boolean(required=True)
    session_stage = fields.String(required=True)
    second_factor_at = fields.DateTime(allow_none=True)


class StaffSessionSchema(Schema):
    id = fields.UUID(required=True)
    stage = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    current = fields.Boolean(required=True)


class StaffSessionListSchema(Schema):
    sessions = fields.List(fields.Nested(StaffSessionSchema), required=True)


class StaffSessionsEndedSchema(Schema):
    ended = fields.Integer(required=True, metadata={"description": "Sessions ended"})


class StaffPasswordChangeSchema(Schema):
    current_password = text(MAX_LENGTH)
    code = text(_CODE_MAX)
    # Bounded a little above the policy's maximum so that the policy, not the parser,
    # explains a too-long password (and the length check still runs before hashing).
    new_password = text(MAX_LENGTH * 2)


class StaffTotpResetSchema(Schema):
    current_password = text(MAX_LENGTH)
    code = text(_CODE_MAX, required=False, metadata={"description": _CODE_DOC})
    recovery_code = text(_CODE_MAX, required=False, metadata={"description": _RECOVERY_DOC})


class StaffNextStepSchema(Schema):
    next = fields.String(required=True, validate=validate.OneOf(["enroll"]))


class StaffStepUpResultSchema(Schema):
    second_factor_at = fields.DateTime(required=True)


# --- invitations and admin ------------------------------------------------------------------


class StaffInvitationCreateSchema(Schema):
    email = _email()
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    display_name = _name()


class StaffInvitationIssuedSchema(Schema):
    id = fields.UUID(required=True)
    invitation_token = fields.String(required=True, metadata={"description": "Shown once"})
    email = fields.String(required=True)
    role = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class StaffInvitationAcceptSchema(Schema):
    invitation_token = text(100)
    display_name = _name(required=False)
    password = text(MAX_LENGTH * 2, metadata={"format": "password"})


class StaffSummarySchema(Schema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True)
    enrolled = fields.Boolean(required=True)
    disabled = fields.Boolean(required=True)


class StaffListSchema(Schema):
    staff = fields.List(fields.Nested(StaffSummarySchema), required=True)


class DutySchema(Schema):
    on_duty = fields.Boolean(required=True)
    phone = fields.String(
        required=True, allow_none=True, metadata={"description": "Last two digits only, or null"}
    )


class DutyUpdateSchema(Schema):
    """``phone`` null clears the number; leaving a field out keeps it."""

    on_duty = fields.Boolean()
    phone = fields.String(allow_none=True, validate=validate.Length(min=4, max=32))


# --- the notice inbox ----------------------------------------------------------------------


class NoticeQuerySchema(PageQuerySchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread notices"})
    limit = limit_field(MAX_NOTICE_PAGE)


class NoticeSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    survivor_id = fields.UUID(allow_none=True)
    details = fields.Dict(required=True, metadata={"description": "Ids only, never content"})
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True)


class NoticePageSchema(PageSchema):
    items = fields.List(fields.Nested(NoticeSchema), required=True)
