"""Wire format of caseloads, break-glass grants and the staff survivor summary (ids only), and
of the survivor's access log."""

from __future__ import annotations

from marshmallow import fields, validate

from auth.access.access_log import MAX_PAGE as MAX_LOG_PAGE
from auth.access.access_log import SHOWN_ACTOR_KINDS
from auth.access.break_glass import REASON_MAX, REASON_MIN
from auth.access.case_labels import LABEL_MAX
from core.pages import PageQuerySchema, PageSchema, limit_field
from core.schemas import Schema, text


def _case_label_out() -> fields.String:
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The advocates' name for this survivor's case; null if none"},
    )


class CaseloadItemSchema(Schema):
    survivor_id = fields.UUID(required=True)
    assigned_at = fields.DateTime(required=True)
    case_label = _case_label_out()


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
    case_label = _case_label_out()


class CaseLabelWriteSchema(Schema):
    case_label = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(max=LABEL_MAX),
        metadata={
            "description": "One line of text (trimmed); empty or null clears the label. Sealed "
            "with the survivor's key, shown to staff who reach her record only: never to her "
            "app, never to an agency"
        },
    )


class CaseLabelSchema(Schema):
    survivor_id = fields.UUID(required=True)
    case_label = _case_label_out()


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
