"""Wire format of caseloads, break-glass grants and the staff survivor summary (ids only), and
of the survivor's access log."""

from __future__ import annotations

from marshmallow import fields, validate

from auth.access.access_log import MAX_PAGE as MAX_LOG_PAGE
from auth.access.access_log import SHOWN_ACTOR_KINDS
from auth.access.break_glass import REASON_MAX, REASON_MIN
from core.pages import PageQuerySchema, PageSchema, limit_field
from core.schemas import Schema, text


class CaseloadItemSchema(Schema):
    survivor_id = fields.UUID(required=True)
    assigned_at = fields.DateTime(required=True)


class CaseloadSchema(Schema):
    items = fields.List(fields.Nested(CaseloadItemSchema), required=True)


class AssignSchema(Schema):
    staff_id = fields.UUID(required=True)


class AssignmentSchema(Schema):
    survivor_id = fields.UUID(required=True)
    staff_id = fields.UUID(required=True)
    assigned_at = fields.DateTime(required=True)
    assigned_by = fields.UUID(allow_none=True)


class AssignmentListSchema(Schema):
    items = fields.List(fields.Nested(AssignmentSchema), required=True)


class BreakGlassRequestSchema(Schema):
    reason = text(
        REASON_MAX,
        min_length=REASON_MIN,
        metadata={"description": "Why the record must be read; sealed, shown to no admin"},
    )


class BreakGlassGrantSchema(Schema):
    grant_id = fields.UUID(required=True)
    survivor_id = fields.UUID(required=True)
    expires_at = fields.DateTime(required=True)
    notified_role = fields.String(
        required=True,
        validate=validate.OneOf(("supervisor", "admin")),
        metadata={"description": "Who was told: other supervisors, or admins when none exist"},
    )
    notified_count = fields.Integer(required=True)


class SurvivorSummarySchema(Schema):
    id = fields.UUID(required=True)
    created_at = fields.DateTime(required=True)
    advocates = fields.List(fields.UUID(), required=True)
    via = fields.String(
        required=True,
        validate=validate.OneOf(("caseload", "break_glass")),
        metadata={"description": "How the caller may read this record"},
    )


# --- the survivor's access log ---------------------------------------------------------------


class AccessLogQuerySchema(PageQuerySchema):
    limit = limit_field(MAX_LOG_PAGE)


class AccessLogEntrySchema(Schema):
    id = fields.UUID(required=True)
    at = fields.DateTime(required=True)
    actor_kind = fields.String(required=True, validate=validate.OneOf(SHOWN_ACTOR_KINDS))
    who = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Staff member's display name or agency name"},
    )
    role = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Staff role (advocate, supervisor, admin) or agency kind"},
    )
    action = fields.String(required=True)
    via = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "How access was granted: caseload or break_glass"},
    )


class AccessLogPageSchema(PageSchema):
    items = fields.List(fields.Nested(AccessLogEntrySchema), required=True)
