"""Caseloads (advocates, supervisors), break-glass, and the staff view of one survivor."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth import break_glass, caseload
from auth.caseload_schemas import (
    AssignmentListSchema,
    AssignmentSchema,
    AssignSchema,
    BreakGlassGrantSchema,
    BreakGlassRequestSchema,
    CaseloadSchema,
    SurvivorSummarySchema,
)
from auth.models import CaseloadEntry
from auth.permissions import CASEWORKER, SUPERVISOR
from web.access import allow, current_principal
from web.db import runtime, session
from web.route_docs import refusal

blp = Blueprint("caseload", __name__, description="Caseloads, break-glass and survivor records")


@allow(CASEWORKER)
@blp.route("/staff/caseload")
class MyCaseload(MethodView):
    @blp.response(200, CaseloadSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    def get(self) -> dict[str, list[CaseloadEntry]]:
        """The survivors on my caseload (ids and assignment time, no content)."""
        return {"items": caseload.my_caseload(session(), current_principal())}


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>")
class SurvivorRecord(MethodView):
    @blp.response(200, SurvivorSummarySchema)
    @refusal(blp, 403, "Not staff")
    @refusal(blp, 404, "No such survivor, or not one the caller may read")
    def get(self, survivor_id: uuid.UUID) -> caseload.SurvivorSummary:
        """A minimal summary of one survivor's record (audited as a read)."""
        return caseload.survivor_summary(
            session(), runtime().clock, current_principal(), survivor_id
        )


@allow(SUPERVISOR)
@blp.route("/supervisor/survivors/<uuid:survivor_id>/advocates")
class SurvivorAdvocates(MethodView):
    @blp.response(200, AssignmentListSchema)
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor")
    def get(self, survivor_id: uuid.UUID) -> dict[str, list[CaseloadEntry]]:
        """Who is assigned to a survivor (ids only)."""
        return {"items": caseload.survivor_caseload(session(), current_principal(), survivor_id)}

    @blp.arguments(AssignSchema)
    @blp.response(201, AssignmentSchema)
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor")
    @refusal(blp, 409, "Already assigned")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> CaseloadEntry:
        """Assign an active advocate or supervisor to a survivor."""
        return caseload.assign(
            session(), runtime().clock, current_principal(), survivor_id, data["staff_id"]
        )


@allow(SUPERVISOR)
@blp.route("/supervisor/survivors/<uuid:survivor_id>/advocates/<uuid:staff_id>")
class SurvivorAdvocate(MethodView):
    @blp.response(204)
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor or assignment")
    @refusal(blp, 409, "The survivor's last active advocate")
    def delete(self, survivor_id: uuid.UUID, staff_id: uuid.UUID) -> None:
        """Take a staff member off a survivor's caseload (never the last active one)."""
        caseload.unassign(session(), runtime().clock, current_principal(), survivor_id, staff_id)


@allow(SUPERVISOR)
@blp.route("/supervisor/survivors/<uuid:survivor_id>/break-glass")
class BreakGlass(MethodView):
    @blp.arguments(BreakGlassRequestSchema)
    @blp.response(201, BreakGlassGrantSchema)
    @refusal(blp, 401, "A fresh second factor is required (step-up)")
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor")
    @refusal(blp, 409, "Nobody else could be notified")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> dict[str, Any]:
        """Open a one-hour, read-only, audited and notified access to one survivor."""
        rt = runtime()
        result = break_glass.open_break_glass(
            session(), rt.clock, rt.vault, current_principal(), survivor_id, data["reason"]
        )
        return {
            "grant_id": result.grant.id,
            "survivor_id": result.grant.survivor_id,
            "expires_at": result.grant.expires_at,
            "notified_role": result.notified_role,
            "notified_count": result.notified_count,
        }
