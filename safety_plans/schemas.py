"""Wire format of safety plans (sections, versions, sharing, priorities, the decoy plan), the risk
instruments, assessments, MARAC eligibility and recommendations, and the evidence journal."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from core.schemas import Schema, text
from safety_plans.entries import KINDS
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


# --- risk: instruments, assessments, MARAC eligibility, recommendations ------------------------


class AnswerField(fields.Field[Any]):
    """An answer: "yes", "no", "unknown", or a whole number (the engine checks which)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ma.ValidationError("Answer with yes, no, unknown or a whole number.")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and len(value) <= 16:
            return value
        raise ma.ValidationError("Answer with yes, no, unknown or a whole number.")


_ANSWER_META = {
    "oneOf": [
        {"type": "string", "enum": ["yes", "no", "unknown"]},
        {"type": "integer", "minimum": 0},
    ]
}


def _answers() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=AnswerField(metadata=_ANSWER_META),
        required=True,
        validate=validate.Length(max=200),
    )


class AssessmentCreateSchema(Schema):
    instrument_id = text(64)
    answers = _answers()
    notes = text(
        5000,
        required=False,
        allow_none=True,
        metadata={"description": "Comments, as in the margins of a paper checklist"},
    )


class StaffAssessmentCreateSchema(AssessmentCreateSchema):
    professional_judgement = fields.String(
        allow_none=True,
        validate=validate.Length(max=64),
        metadata={
            "description": "A band the practitioner judges the risk to be at (may raise "
            "the level, never lower it)"
        },
    )


class ResultSchema(Schema):
    instrument_id = fields.String(required=True)
    score = fields.Float(required=True)
    computed_band = fields.String(required=True, metadata={"description": "Band from answers"})
    band = fields.String(required=True, metadata={"description": "Band after judgement"})
    level = fields.String(required=True)
    raised_by_judgement = fields.Boolean(required=True)
    fired = fields.List(fields.String(), required=True)
    highest_band = fields.Boolean(required=True)
    referral = fields.Boolean(required=True)


class AssessmentSchema(Schema):
    id = fields.UUID(required=True)
    instrument_id = fields.String(required=True)
    taken_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    answers = fields.Dict(
        keys=fields.String(), values=fields.Raw(metadata=_ANSWER_META), required=True
    )
    professional_judgement = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    result = fields.Nested(ResultSchema, required=True)


class AssessmentListSchema(Schema):
    assessments = fields.List(fields.Nested(AssessmentSchema), required=True)


class MaracSchema(Schema):
    eligible = fields.Boolean(required=True)
    eligible_since = fields.DateTime(allow_none=True)
    assessment_id = fields.UUID(allow_none=True)


class InstrumentItemSchema(Schema):
    id = fields.String(required=True)
    text = fields.String(required=True)
    answer_type = fields.String(required=True)
    weight = fields.Float(required=True)
    counts = fields.Boolean(required=True)
    required = fields.Boolean(required=True)
    guidance = fields.String()


class InstrumentBandSchema(Schema):
    name = fields.String(required=True)
    min_score = fields.Float(allow_none=True, required=True)
    level = fields.String(required=True)
    description = fields.String(required=True)


class InstrumentSummarySchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)
    title = fields.String(required=True)
    source_url = fields.String(required=True)
    attribution = fields.String(required=True)
    licence_note = fields.String(required=True)


class InstrumentSchema(InstrumentSummarySchema):
    scoring = fields.String(required=True)
    items = fields.List(fields.Nested(InstrumentItemSchema), required=True)
    bands = fields.List(fields.Nested(InstrumentBandSchema), required=True)
    professional_judgement = fields.Dict(allow_none=True)
    triggers = fields.List(fields.Dict(), required=True)


class InstrumentListSchema(Schema):
    instruments = fields.List(fields.Nested(InstrumentSummarySchema), required=True)


class RecommendationSchema(Schema):
    id = fields.String(required=True)
    section = fields.String(required=True, validate=validate.OneOf(SECTIONS))
    text = fields.String(required=True)
    because = fields.List(fields.String(), required=True)


class RecommendationListSchema(Schema):
    priorities = fields.List(fields.String(), required=True)
    level = fields.String(allow_none=True, required=True)
    recommendations = fields.List(fields.Nested(RecommendationSchema), required=True)


class AdoptSchema(Schema):
    recommendation_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=100),
    )


# --- the evidence journal ------------------------------------------------------------------------


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
