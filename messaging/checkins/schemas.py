"""Wire format of check-ins."""

from __future__ import annotations

from marshmallow import fields, validate

from core.schemas import Schema, integer, text
from messaging.checkins.schedule import WEEKDAYS
from messaging.checkins.templates import MAX_TEXT, TEMPLATES

_DAY = fields.String(validate=validate.OneOf(WEEKDAYS))
_HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM, 24-hour.")


class QuietWindowSchema(Schema):
    days = fields.List(_DAY, required=True, validate=validate.Length(min=1, max=7))
    start = fields.String(required=True, validate=_HHMM)
    end = fields.String(required=True, validate=_HHMM)


class SettingsSchema(Schema):
    grace_minutes = integer(validate=validate.Range(5, 240))
    second_window_minutes = integer(validate=validate.Range(5, 240))
    quiet_windows = fields.List(
        fields.Nested(QuietWindowSchema), required=True, validate=validate.Length(max=14)
    )
    quiet_policy = fields.String(required=True, validate=validate.OneOf(["wait", "app"]))
    timezone = text(64)
    paused = fields.Boolean(required=True)
    welfare_agency_id = fields.UUID(required=True, allow_none=True)
    reply_codes_set = fields.Boolean(dump_only=True)


class SettingsUpdateSchema(Schema):
    grace_minutes = integer(required=False, validate=validate.Range(5, 240))
    second_window_minutes = integer(required=False, validate=validate.Range(5, 240))
    safe_reply = text(32, required=False, load_only=True)
    help_reply = text(32, required=False, load_only=True)
    quiet_windows = fields.List(fields.Nested(QuietWindowSchema), validate=validate.Length(max=14))
    quiet_policy = fields.String(validate=validate.OneOf(["wait", "app"]))
    timezone = text(64, required=False)
    paused = fields.Boolean()
    welfare_agency_id = fields.UUID(allow_none=True)


class ScheduleCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["one_off", "recurring"]))
    channel = fields.String(load_default="sms", validate=validate.OneOf(["sms", "app"]))
    due_at = fields.AwareDateTime(load_default=None, allow_none=True)
    days = fields.List(_DAY, validate=validate.Length(min=1, max=7))
    at = fields.String(validate=_HHMM)
    timezone = text(64, required=False)
    template = fields.String(validate=validate.OneOf(list(TEMPLATES)))
    custom_text = text(MAX_TEXT, required=False)


class ScheduleSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    channel = fields.String(required=True)
    due_at = fields.AwareDateTime(allow_none=True)
    days = fields.List(fields.String(), allow_none=True)
    at = fields.String(allow_none=True, attribute="local_time")
    timezone = fields.String(required=True)
    template = fields.String(allow_none=True, attribute="template_id")
    custom_text = fields.Boolean(
        required=True, metadata={"description": "True when the survivor wrote their own text"}
    )
    created_at = fields.AwareDateTime(required=True)


class TemplateSchema(Schema):
    id = fields.String(required=True)
    text = fields.String(required=True)


class OccurrenceSchema(Schema):
    id = fields.UUID(required=True)
    schedule_id = fields.UUID(required=True)
    due_at = fields.AwareDateTime(required=True)
    send_at = fields.AwareDateTime(required=True)
    grace_ends_at = fields.AwareDateTime(required=True)
    state = fields.String(required=True)
    channel = fields.String(required=True)


class StaffCheckinsSchema(Schema):
    paused = fields.Boolean(
        required=True, metadata={"description": "The survivor has paused their check-ins"}
    )
    schedules = fields.List(fields.Nested(ScheduleSchema), required=True)
    occurrences = fields.List(
        fields.Nested(OccurrenceSchema),
        required=True,
        metadata={"description": "The latest occurrences by due time, newest first"},
    )


class AnswerSchema(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(["safe", "help"]))


class SnoozeSchema(Schema):
    minutes = integer(validate=validate.Range(5, 240))


class SafeNowSchema(Schema):
    answered = fields.Integer(required=True)


class EscalationSchema(Schema):
    id = fields.UUID(required=True)
    survivor_id = fields.UUID(required=True)
    source = fields.String(required=True)
    urgency = fields.Integer(required=True)
    state = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    partner_outcome = fields.String(allow_none=True)
    late_reply_at = fields.AwareDateTime(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class ResolveSchema(Schema):
    note = text(4000)


class QueueQuerySchema(Schema):
    include_resolved = fields.Boolean(load_default=False)
