"""Wire format of the coordination API (marshmallow 4; unknown fields refused, strings bounded)."""

from __future__ import annotations

from marshmallow import fields, validate

from coordination.vocab import (
    ADVOCATE_ALERT_KINDS,
    CONSENT_KINDS,
    EVENT_TYPES,
    LAWFUL_BASES,
    RISK_LEVELS,
    SAFETY_STATUSES,
)
from core.pages import PageQuerySchema, PageSchema
from core.schemas import Schema, integer, text

_KINDS = fields.List(
    fields.String(validate=validate.OneOf(CONSENT_KINDS)),
    required=True,
    validate=validate.Length(min=1, max=len(CONSENT_KINDS)),
)
PURPOSE_MAX = 500
HASH = validate.Length(equal=64)


def _aware() -> fields.AwareDateTime:
    return fields.AwareDateTime(required=True, format="iso")


# --- consents -------------------------------------------------------------------------------


class ConsentPreviewSchema(Schema):
    agency_id = fields.UUID(required=True)
    kinds = fields.List(
        fields.String(validate=validate.OneOf(CONSENT_KINDS)),
        required=True,
        validate=validate.Length(min=1, max=len(CONSENT_KINDS)),
    )
    purpose = text(PURPOSE_MAX, metadata={"description": "Why, in plain words"})
    expires_at = fields.AwareDateTime(
        format="iso",
        load_default=None,
        metadata={"description": "Omit to be offered the default (90 days)"},
    )


class ConsentTermsSchema(Schema):
    agency_id = fields.UUID(required=True)
    agency_name = fields.String(required=True)
    kinds = fields.List(fields.String(), required=True)
    purpose = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    text = fields.String(required=True, metadata={"description": "Show this before agreeing"})
    text_hash = fields.String(required=True, metadata={"description": "Send back to agree"})


class ConsentGiveSchema(Schema):
    agency_id = fields.UUID(required=True)
    kinds = fields.List(
        fields.String(validate=validate.OneOf(CONSENT_KINDS)),
        required=True,
        validate=validate.Length(min=1, max=len(CONSENT_KINDS)),
    )
    purpose = text(PURPOSE_MAX)
    expires_at = _aware()
    text_hash = fields.String(required=True, validate=HASH)


class ConsentRecordSchema(Schema):
    """An advocate records a consent given in person (the survivor confirms in the app)."""

    agency_id = fields.UUID(required=True)
    kinds = fields.List(
        fields.String(validate=validate.OneOf(CONSENT_KINDS)),
        required=True,
        validate=validate.Length(min=1, max=len(CONSENT_KINDS)),
    )
    purpose = text(PURPOSE_MAX)
    expires_at = _aware()


class ConsentConfirmSchema(Schema):
    receipt_hash = fields.String(required=True, validate=HASH)


class ReceiptSchema(Schema):
    text = fields.String(required=True)
    hash = fields.String(required=True)


class ConsentSchema(Schema):
    id = fields.UUID(required=True)
    agency_id = fields.UUID(required=True)
    agency_name = fields.String(required=True)
    agency_kind = fields.String(required=True)
    kinds = fields.List(fields.String(), required=True)
    purpose = fields.String(required=True)
    given_via = fields.String(required=True)
    state = fields.String(
        required=True,
        metadata={"description": "pending_confirmation, active, not_started, expired or revoked"},
    )
    starts_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    confirmed_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    receipt = fields.Nested(ReceiptSchema, required=True)


class ConsentListSchema(Schema):
    items = fields.List(fields.Nested(ConsentSchema), required=True)


class AgencyBriefSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)


class AgencyBriefListSchema(Schema):
    items = fields.List(fields.Nested(AgencyBriefSchema), required=True)


# --- disclosures, notices, preferences -----------------------------------------------------


class DisclosureSchema(Schema):
    id = fields.UUID(required=True)
    agency_id = fields.UUID(required=True)
    agency_name = fields.String(required=True)
    agency_kind = fields.String(required=True)
    direction = fields.String(required=True, metadata={"description": "out (shared) or in"})
    what = fields.String(required=True, metadata={"description": "alert, event, lawful_share"})
    kind = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    basis = fields.String(required=True)
    consent_id = fields.UUID(allow_none=True)
    purpose = fields.String(allow_none=True)
    lawful_basis = fields.String(allow_none=True)


class DisclosureListSchema(Schema):
    items = fields.List(fields.Nested(DisclosureSchema), required=True)


class SurvivorNoticeSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    details = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)


class SurvivorNoticeListSchema(Schema):
    items = fields.List(fields.Nested(SurvivorNoticeSchema), required=True)


class PreferencesSchema(Schema):
    agency_news = fields.Boolean(
        required=True,
        metadata={"description": "Tell me, in neutral words, when an agency reports news"},
    )


# --- alerts ---------------------------------------------------------------------------------


class AlertCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(ADVOCATE_ALERT_KINDS))
    status = fields.String(validate=validate.OneOf(SAFETY_STATUSES))
    level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    marac_referral = fields.Boolean()


class AlertCreatedSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    agencies = fields.Integer(required=True, metadata={"description": "How many were told"})


class PartnerAlertQuerySchema(PageQuerySchema):
    """``cursor`` and ``limit`` (at most 100)."""


class PartnerAlertSchema(Schema):
    alert_id = fields.UUID(required=True)
    webhook_id = fields.String(required=True)
    type = fields.String(required=True)
    data = fields.Dict(required=True)
    acknowledged_at = fields.DateTime(allow_none=True)


class PartnerAlertPageSchema(PageSchema):
    items = fields.List(fields.Nested(PartnerAlertSchema), required=True)


class AckSchema(Schema):
    alert_id = fields.UUID(required=True)
    acknowledged_at = fields.DateTime(required=True)


# --- events ---------------------------------------------------------------------------------


class EventInSchema(Schema):
    event_id = text(100, metadata={"description": "Your own id; repeats have no second effect"})
    reference = text(40, metadata={"description": "Your reference for the survivor"})
    category = fields.String(required=True, validate=validate.OneOf(tuple(EVENT_TYPES)))
    type = fields.String(
        required=True,
        validate=validate.OneOf(sorted({t for ts in EVENT_TYPES.values() for t in ts})),
    )
    occurred_at = _aware()
    note = text(1000, required=False, metadata={"description": "Optional short note"})


class EventAcceptedSchema(Schema):
    id = fields.UUID(required=True)
    event_id = fields.String(required=True)
    duplicate = fields.Boolean(required=True)
    received_at = fields.DateTime(required=True)


class AgencyEventSchema(Schema):
    id = fields.UUID(required=True)
    agency_id = fields.UUID(required=True)
    agency_name = fields.String(required=True)
    agency_kind = fields.String(required=True)
    category = fields.String(required=True)
    type = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    received_at = fields.DateTime(required=True)
    note = fields.String(allow_none=True)


class AgencyEventListSchema(Schema):
    items = fields.List(fields.Nested(AgencyEventSchema), required=True)


# --- lawful-basis shares --------------------------------------------------------------------


class LawfulShareCreateSchema(Schema):
    agency_id = fields.UUID(required=True)
    kinds = fields.List(
        fields.String(validate=validate.OneOf(CONSENT_KINDS)),
        required=True,
        validate=validate.Length(min=1, max=len(CONSENT_KINDS)),
    )
    basis = fields.String(required=True, validate=validate.OneOf(LAWFUL_BASES))
    reasoning = text(4000)
    duration_hours = integer(validate=validate.Range(min=1, max=720))
    tell_survivor = fields.Boolean(required=True)
    not_telling_reason = text(2000, required=False)


class LawfulShareSchema(Schema):
    id = fields.UUID(required=True)
    agency_id = fields.UUID(required=True)
    kinds = fields.List(fields.String(), required=True)
    basis = fields.String(required=True)
    reasoning = fields.String(required=True)
    tell_survivor = fields.Boolean(required=True)
    not_telling_reason = fields.String(allow_none=True)
    duration_hours = fields.Integer(required=True)
    state = fields.String(required=True)
    requested_by = fields.UUID(required=True)
    decided_by = fields.UUID(allow_none=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)


class LawfulShareListSchema(Schema):
    items = fields.List(fields.Nested(LawfulShareSchema), required=True)


# --- admin: webhooks and deliveries ---------------------------------------------------------


class WebhookSetSchema(Schema):
    url = text(2000, metadata={"description": "https URL reaching a public address"})


class WebhookSchema(Schema):
    agency_id = fields.UUID(required=True)
    configured = fields.Boolean(required=True)
    url = fields.String(allow_none=True)
    enabled = fields.Boolean(required=True)
    disabled_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    rotating_until = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)
    secret = fields.String(
        allow_none=True,
        metadata={"description": "whsec_ signing secret: shown once, when created or rotated"},
    )


class DeliveryQuerySchema(Schema):
    state = fields.String(
        validate=validate.OneOf(("pending", "delivered", "dead", "cancelled")), load_default=None
    )
    agency_id = fields.UUID(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class DeliverySchema(Schema):
    id = fields.UUID(required=True)
    agency_id = fields.UUID(required=True)
    webhook_id = fields.String(required=True)
    state = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)
