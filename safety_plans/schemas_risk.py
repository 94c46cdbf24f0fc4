"""Wire format of instruments, assessments, MARAC eligibility and recommendations."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from core.schemas import Schema, text
from safety_plans.sections import SECTIONS


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
