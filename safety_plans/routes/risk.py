"""Risk routes: instruments, assessments, MARAC eligibility, tailored recommendations."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER, SURVIVOR, SURVIVOR_OR_STAFF
from safety_plans import assessments, recommendations
from safety_plans.instruments import Catalogue, Instrument
from safety_plans.routes.common import (
    COMMON_ERRORS,
    ETAG_HEADER,
    VERSION_WRITE_ERRORS,
    deps,
    if_match,
    staff_access,
    survivor_access,
    with_etag,
)
from safety_plans.schemas import (
    IF_MATCH_PARAM,
    AdoptSchema,
    AssessmentCreateSchema,
    AssessmentListSchema,
    AssessmentSchema,
    InstrumentListSchema,
    InstrumentSchema,
    MaracSchema,
    PlanSchema,
    RecommendationListSchema,
    StaffAssessmentCreateSchema,
)
from web.access import allow
from web.route_docs import refusals

blp = Blueprint(
    "risk",
    __name__,
    description="Risk instruments, assessments, MARAC eligibility and tailored recommendations.",
)

READ, WRITE = "risk_assessment.read", "risk_assessment.write"
PLAN_WRITE = "safety_plan.write"


def catalogue() -> Catalogue:
    return deps().catalogue


@allow(SURVIVOR_OR_STAFF)
@blp.route("/instruments")
class Instruments(MethodView):
    @blp.response(200, InstrumentListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """The risk instruments this service has loaded (with source and licence notes)."""
        return {"instruments": [i.spec for i in catalogue().values()]}


@allow(SURVIVOR_OR_STAFF)
@blp.route("/instruments/<string(maxlength=64):instrument_id>")
class InstrumentOne(MethodView):
    @blp.response(200, InstrumentSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, instrument_id: str) -> Any:
        """One instrument: items, answer types, bands and triggers."""
        instrument: Instrument = assessments.instrument_of(catalogue(), instrument_id)
        return instrument.spec


# --- the survivor's own ---------------------------------------------------------------------


@allow(SURVIVOR)
@blp.route("/survivor/assessments")
class SurvivorAssessments(MethodView):
    @blp.response(200, AssessmentListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """The survivor's assessment history, newest first."""
        s, access, clock, d = survivor_access(READ)
        return {"assessments": assessments.list_assessments(s, access, clock, d)}

    @blp.arguments(AssessmentCreateSchema)
    @blp.response(201, AssessmentSchema)
    @refusals(blp, *COMMON_ERRORS, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Take an instrument in the app; the answers and result are kept sealed."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        return assessments.take(
            s,
            access,
            clock,
            d,
            instrument_id=body["instrument_id"],
            answers=body["answers"],
            notes=body.get("notes"),
        )


@allow(SURVIVOR)
@blp.route("/survivor/assessments/<uuid:assessment_id>")
class SurvivorAssessment(MethodView):
    @blp.response(200, AssessmentSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, assessment_id: uuid.UUID) -> Any:
        """One past assessment."""
        s, access, clock, d = survivor_access(READ)
        return assessments.get_assessment(s, access, clock, d, assessment_id=assessment_id)


@allow(SURVIVOR)
@blp.route("/survivor/recommendations")
class SurvivorRecommendations(MethodView):
    @blp.response(200, RecommendationListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """Plan items suggested by the latest risk level and the survivor's priorities."""
        s, access, clock, d = survivor_access("safety_plan.read")
        return recommendations.tailored(s, access, clock, d)


@allow(SURVIVOR)
@blp.route("/survivor/safety-plan/recommendations")
class SurvivorAdopt(MethodView):
    @blp.arguments(AdoptSchema)
    @blp.doc(parameters=[IF_MATCH_PARAM])
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS, *VERSION_WRITE_ERRORS)
    def post(self, body: dict[str, Any]) -> Any:
        """Add chosen recommendations to the plan in one new version (If-Match required)."""
        s, access, clock, d = survivor_access(PLAN_WRITE, write=True)
        view = recommendations.adopt(
            s, access, clock, d, if_match=if_match(), recommendation_ids=body["recommendation_ids"]
        )
        return with_etag({"version": view.version, "sections": view.sections}, view.etag)


# --- an advocate with the survivor ----------------------------------------------------------

STAFF = "/staff/survivors/<uuid:survivor_id>"


@allow(CASEWORKER)
@blp.route(STAFF + "/assessments")
class StaffAssessments(MethodView):
    @blp.response(200, AssessmentListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """The survivor's assessment history (when they share their plan)."""
        s, access, clock, d = staff_access(survivor_id, READ)
        return {"assessments": assessments.list_assessments(s, access, clock, d)}

    @blp.arguments(StaffAssessmentCreateSchema)
    @blp.response(201, AssessmentSchema)
    @refusals(blp, *COMMON_ERRORS, 422)
    def post(self, body: dict[str, Any], survivor_id: uuid.UUID) -> Any:
        """Record an assessment taken with the survivor, with optional professional judgement."""
        s, access, clock, d = staff_access(survivor_id, WRITE, write=True)
        return assessments.take(
            s,
            access,
            clock,
            d,
            instrument_id=body["instrument_id"],
            answers=body["answers"],
            professional_judgement=body.get("professional_judgement"),
            notes=body.get("notes"),
        )


@allow(CASEWORKER)
@blp.route(STAFF + "/assessments/<uuid:assessment_id>")
class StaffAssessment(MethodView):
    @blp.response(200, AssessmentSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID, assessment_id: uuid.UUID) -> Any:
        """One past assessment."""
        s, access, clock, d = staff_access(
            survivor_id, READ, subject=("risk_assessment", assessment_id)
        )
        return assessments.get_assessment(s, access, clock, d, assessment_id=assessment_id)


@allow(CASEWORKER)
@blp.route(STAFF + "/marac-eligibility")
class StaffMarac(MethodView):
    @blp.response(200, MaracSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """Whether an assessment has met a MARAC referral criterion, and which."""
        s, access, clock, _ = staff_access(survivor_id, READ)
        return assessments.marac_status(s, access, clock)


@allow(CASEWORKER)
@blp.route(STAFF + "/recommendations")
class StaffRecommendations(MethodView):
    @blp.response(200, RecommendationListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """Suggested plan items, to go through with the survivor."""
        s, access, clock, d = staff_access(survivor_id, "safety_plan.read")
        return recommendations.tailored(s, access, clock, d)


@allow(CASEWORKER)
@blp.route(STAFF + "/safety-plan/recommendations")
class StaffAdopt(MethodView):
    @blp.arguments(AdoptSchema)
    @blp.doc(parameters=[IF_MATCH_PARAM])
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS, *VERSION_WRITE_ERRORS)
    def post(self, body: dict[str, Any], survivor_id: uuid.UUID) -> Any:
        """Add chosen recommendations to the plan (If-Match required)."""
        s, access, clock, d = staff_access(survivor_id, PLAN_WRITE, write=True)
        view = recommendations.adopt(
            s, access, clock, d, if_match=if_match(), recommendation_ids=body["recommendation_ids"]
        )
        return with_etag({"version": view.version, "sections": view.sections}, view.etag)
