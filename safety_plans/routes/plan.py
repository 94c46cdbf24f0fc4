"""Safety plan routes: the survivor's own (/survivor/...) and an advocate's (/staff/...)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER, SURVIVOR
from safety_plans import plans, profile
from safety_plans.plans import PlanView
from safety_plans.routes.common import (
    COMMON_ERRORS,
    ETAG_HEADER,
    VERSION_WRITE_ERRORS,
    if_match,
    staff_access,
    survivor_access,
    with_etag,
)
from safety_plans.schemas import (
    IF_MATCH_PARAM,
    DecoyPlanSchema,
    PlanSchema,
    PlanWriteSchema,
    PrioritiesSchema,
    SharingPatchSchema,
    SharingSchema,
    VersionListSchema,
)
from web.access import allow
from web.route_docs import refusals

blp = Blueprint(
    "safety_plans",
    __name__,
    description="Safety plans: sections, versions, ETag/If-Match, sharing, decoy plan.",
)

READ, WRITE = "safety_plan.read", "safety_plan.write"


def _dump(view: PlanView) -> tuple[Any, int, dict[str, str]]:
    return with_etag({"version": view.version, "sections": view.sections}, view.etag)


# --- the survivor's own plan ----------------------------------------------------------------


@allow(SURVIVOR)
@blp.route("/survivor/safety-plan")
class SurvivorPlan(MethodView):
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """The survivor's current plan (created from the template on first read)."""
        s, access, clock, d = survivor_access(READ)
        return _dump(plans.get_plan(s, access, clock, d))

    @blp.arguments(PlanWriteSchema)
    @blp.doc(parameters=[IF_MATCH_PARAM])
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS, *VERSION_WRITE_ERRORS)
    def put(self, body: dict[str, Any]) -> Any:
        """Save the whole plan as a new version (If-Match required)."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        return _dump(
            plans.save_plan(s, access, clock, d, if_match=if_match(), sections=body["sections"])
        )


@allow(SURVIVOR)
@blp.route("/survivor/safety-plan/versions")
class SurvivorPlanVersions(MethodView):
    @blp.response(200, VersionListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """Every saved version, newest first."""
        s, access, clock, d = survivor_access(READ)
        return {"versions": plans.list_versions(s, access, clock, d)}


@allow(SURVIVOR)
@blp.route("/survivor/safety-plan/versions/<uuid:version_id>")
class SurvivorPlanVersion(MethodView):
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, version_id: uuid.UUID) -> Any:
        """One saved version."""
        s, access, clock, d = survivor_access(READ)
        return _dump(plans.get_version(s, access, clock, d, version_id=version_id))


@allow(SURVIVOR)
@blp.route("/survivor/safety-plan/versions/<uuid:version_id>/restore")
class SurvivorPlanRestore(MethodView):
    @blp.doc(parameters=[IF_MATCH_PARAM])
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS, *VERSION_WRITE_ERRORS)
    def post(self, version_id: uuid.UUID) -> Any:
        """Restore an old version as a new version (If-Match: the current ETag)."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        return _dump(
            plans.restore_version(s, access, clock, d, version_id=version_id, if_match=if_match())
        )


@allow(SURVIVOR)
@blp.route("/survivor/advocate-sharing")
class SurvivorSharing(MethodView):
    @blp.response(200, SharingSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """Whether the advocate may see the plan and the journal."""
        s, access, clock, _ = survivor_access(READ)
        return profile.get_sharing(s, access, clock)

    @blp.arguments(SharingPatchSchema)
    @blp.response(200, SharingSchema)
    @refusals(blp, *COMMON_ERRORS, 422)
    def patch(self, body: dict[str, Any]) -> Any:
        """Switch advocate access to the plan and/or the journal on or off."""
        s, access, clock, _ = survivor_access(WRITE, write=True)
        return profile.set_sharing(
            s,
            access,
            clock,
            plan_shared=body.get("plan_shared"),
            journal_shared=body.get("journal_shared"),
        )


@allow(SURVIVOR)
@blp.route("/survivor/priorities")
class SurvivorPriorities(MethodView):
    @blp.response(200, PrioritiesSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """The survivor's stated priorities (they tailor recommendations)."""
        s, access, clock, d = survivor_access(READ)
        return {"priorities": profile.get_priorities(s, access, clock, d)}

    @blp.arguments(PrioritiesSchema)
    @blp.response(200, PrioritiesSchema)
    @refusals(blp, *COMMON_ERRORS, 422)
    def put(self, body: dict[str, Any]) -> Any:
        """Set the survivor's priorities."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        return {
            "priorities": profile.set_priorities(s, access, clock, d, priorities=body["priorities"])
        }


@allow(SURVIVOR)
@blp.route("/survivor/decoy-plan")
class SurvivorDecoyPlan(MethodView):
    @blp.response(200, DecoyPlanSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """The harmless plan a duress session is shown."""
        s, access, clock, d = survivor_access(READ)
        return {"sections": profile.decoy_plan(s, access, clock, d)}

    @blp.arguments(DecoyPlanSchema)
    @blp.response(200, DecoyPlanSchema)
    @refusals(blp, *COMMON_ERRORS, 413, 422)
    def put(self, body: dict[str, Any]) -> Any:
        """Choose the plan a duress PIN shows."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        return {"sections": plans.set_decoy_plan(s, access, clock, d, sections=body["sections"])}


# --- an advocate's view of a survivor's plan ------------------------------------------------

STAFF = "/staff/survivors/<uuid:survivor_id>/safety-plan"


@allow(CASEWORKER)
@blp.route(STAFF)
class StaffPlan(MethodView):
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """The survivor's current plan, if they share it with their advocate."""
        s, access, clock, d = staff_access(survivor_id, READ)
        return _dump(plans.get_plan(s, access, clock, d))

    @blp.arguments(PlanWriteSchema)
    @blp.doc(parameters=[IF_MATCH_PARAM])
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS, *VERSION_WRITE_ERRORS)
    def put(self, body: dict[str, Any], survivor_id: uuid.UUID) -> Any:
        """Co-edit the plan: a new version (If-Match required)."""
        s, access, clock, d = staff_access(survivor_id, WRITE, write=True)
        return _dump(
            plans.save_plan(s, access, clock, d, if_match=if_match(), sections=body["sections"])
        )


@allow(CASEWORKER)
@blp.route(STAFF + "/versions")
class StaffPlanVersions(MethodView):
    @blp.response(200, VersionListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """Every saved version, newest first."""
        s, access, clock, d = staff_access(survivor_id, READ)
        return {"versions": plans.list_versions(s, access, clock, d)}


@allow(CASEWORKER)
@blp.route(STAFF + "/versions/<uuid:version_id>")
class StaffPlanVersion(MethodView):
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID, version_id: uuid.UUID) -> Any:
        """One saved version."""
        s, access, clock, d = staff_access(
            survivor_id, READ, subject=("safety_plan_version", version_id)
        )
        return _dump(plans.get_version(s, access, clock, d, version_id=version_id))


@allow(CASEWORKER)
@blp.route(STAFF + "/versions/<uuid:version_id>/restore")
class StaffPlanRestore(MethodView):
    @blp.doc(parameters=[IF_MATCH_PARAM])
    @blp.response(200, PlanSchema, headers=ETAG_HEADER)
    @refusals(blp, *COMMON_ERRORS, *VERSION_WRITE_ERRORS)
    def post(self, survivor_id: uuid.UUID, version_id: uuid.UUID) -> Any:
        """Restore an old version as a new version."""
        s, access, clock, d = staff_access(survivor_id, WRITE, write=True)
        return _dump(
            plans.restore_version(s, access, clock, d, version_id=version_id, if_match=if_match())
        )
