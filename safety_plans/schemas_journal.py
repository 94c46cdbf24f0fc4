"""Wire format of the evidence journal."""

from __future__ import annotations

from marshmallow import fields, validate

from core.schemas import Schema, text
from safety_plans.journal import KINDS


class EntryCreateSchema(Schema):
    occurred_on = fields.Date(
        allow_none=True, metadata={"description": "The date it happened, if known"}
    )
    occurred_text = text(
        500,
        required=False,
        allow_none=True,
        metadata={"description": "When it happened, in the survivor's own words"},
    )
    kinds = fields.List(
        fields.String(validate=validate.OneOf(KINDS)),
        required=True,
        validate=validate.Length(min=1, max=len(KINDS)),
    )
    description = text(20_000)
    injuries = text(5000, required=False, allow_none=True)
    witnesses = text(2000, required=False, allow_none=True)
    police_reference = text(100, required=False, allow_none=True)
    amends = fields.UUID(allow_none=True, metadata={"description": "The entry this one corrects"})
    attachment_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))


class AttachmentInfoSchema(Schema):
    id = fields.UUID(required=True)
    media_type = fields.String(required=True)
    size = fields.Integer(required=True)


class EntrySchema(Schema):
    id = fields.UUID(required=True)
    seq = fields.Integer(required=True)
    entry_type = fields.String(required=True, metadata={"description": "entry or deletion"})
    recorded_at = fields.DateTime(required=True)
    refers_to = fields.UUID(
        allow_none=True, metadata={"description": "Amended entry, or the entry a deletion removed"}
    )
    deleted = fields.Boolean(required=True)
    amended_by = fields.List(fields.UUID(), required=True)
    occurred_on = fields.String(allow_none=True)
    occurred_text = fields.String(allow_none=True)
    kinds = fields.List(fields.String())
    description = fields.String(allow_none=True)
    injuries = fields.String(allow_none=True)
    witnesses = fields.String(allow_none=True)
    police_reference = fields.String(allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentInfoSchema))


class EntryListSchema(Schema):
    entries = fields.List(fields.Nested(EntrySchema), required=True)


class UploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
