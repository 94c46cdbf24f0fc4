"""Wire format of safety plans, sharing, priorities and the decoy plan."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from core.schemas import Schema, text
from safety_plans.profile import PRIORITIES
from safety_plans.sections import (
    CODE_WORD_SECTIONS,
    MAX_CODE_WORD,
    MAX_ITEM_TEXT,
    MAX_ITEMS_PER_SECTION,
    SECTIONS,
)


class PlanItemSchema(Schema):
    text = text(MAX_ITEM_TEXT)
    checked = fields.Boolean(
        allow_none=True, metadata={"description": "Checklist state; absent for plain items"}
    )


class ContactItemSchema(PlanItemSchema):
    code_word = text(
        MAX_CODE_WORD,
        required=False,
        min_length=0,
        metadata={"description": "The code word agreed with this contact"},
    )


def _section(name: str) -> fields.List[Any]:
    item = ContactItemSchema if name in CODE_WORD_SECTIONS else PlanItemSchema
    return fields.List(
        fields.Nested(item),
        required=True,
        validate=validate.Length(max=MAX_ITEMS_PER_SECTION),
    )


SectionsSchema = Schema.from_dict(
    {name: _section(name) for name in SECTIONS}, name="PlanSectionsSchema"
)


class PlanWriteSchema(Schema):
    sections = fields.Nested(SectionsSchema, required=True)


class VersionSchema(Schema):
    id = fields.UUID(required=True)
    number = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    author = fields.String(
        required=True, metadata={"description": "system (template), survivor or advocate"}
    )
    restored_from = fields.Integer(
        allow_none=True, metadata={"description": "Number of the version this one restored"}
    )


class PlanSchema(Schema):
    version = fields.Nested(VersionSchema, required=True)
    sections = fields.Nested(SectionsSchema, required=True)


class VersionListSchema(Schema):
    versions = fields.List(fields.Nested(VersionSchema), required=True)


class DecoyPlanSchema(Schema):
    sections = fields.Nested(SectionsSchema, required=True)


class SharingSchema(Schema):
    plan_shared = fields.Boolean(
        required=True, metadata={"description": "Advocate may see and co-edit the plan"}
    )
    journal_shared = fields.Boolean(
        required=True, metadata={"description": "Advocate may read the evidence journal"}
    )


class SharingPatchSchema(Schema):
    plan_shared = fields.Boolean()
    journal_shared = fields.Boolean()


class PrioritiesSchema(Schema):
    priorities = fields.List(
        fields.String(validate=validate.OneOf(PRIORITIES)),
        required=True,
        validate=validate.Length(max=len(PRIORITIES)),
    )


IF_MATCH_PARAM = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "The ETag of the plan version this write is based on (428 without it, "
    "412 when another save came first).",
    "schema": {"type": "string", "maxLength": 200},
}
