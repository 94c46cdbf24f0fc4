"""Caseloads (advocates, supervisors), break-glass, the staff view of one survivor and its case
label, and the survivor's own access log."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access import access_log, break_glass, case_labels, caseload
from auth.access.models import CaseloadEntry
from auth.access.permissions import (
    CASEWORKER,
    SUPERVISOR,
    SURVIVOR,
    require_fresh_second_factor,
    require_staff_access,
)
from auth.access.schemas import (
    AccessLogPageSchema,
    AccessLogQuerySchema,
    AssignmentListSchema,
    AssignmentSchema,
    AssignSchema,
    BreakGlassGrantSchema,
    BreakGlassRequestSchema,
    CaseLabelSchema,
    CaseLabelWriteSchema,
    CaseloadSchema,
    SurvivorSummarySchema,
)
from auth.principals import StaffPrincipal, SurvivorPrincipal
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal

blp = Blueprint("caseload", __name__, description="Caseloads, break-glass and survivor records")
log_blp = Blueprint("access_log", __name__, description="The survivor's own access log")


@allow(CASEWORKER)
@blp.route("/staff/caseload")
class MyCaseload(MethodView):
    @blp.response(200, CaseloadSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    def get(self) -> dict[str, list[caseload.CaseloadItem]]:
        """The survivors on my caseload: ids, assignment time and case labels."""
        items = caseload.labelled_caseload(session(), admitted(StaffPrincipal), runtime().vault)
        return {"items": items}


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>")
class SurvivorRecord(MethodView):
    @blp.response(200, SurvivorSummarySchema)
    @refusal(blp, 403, "Not staff")
    @refusal(blp, 404, "No such survivor, or not one the caller may read")
    def get(self, survivor_id: uuid.UUID) -> caseload.SurvivorSummary:
        """A minimal summary of one survivor's record (audited as a read)."""
        s, rt = session(), runtime()
        access = require_staff_access(
            s, rt.clock, admitted(StaffPrincipal), survivor_id, action="survivor.read"
        )
        return caseload.survivor_summary(s, access, rt.vault)


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>/case-label")
class SurvivorCaseLabel(MethodView):
    @blp.arguments(CaseLabelWriteSchema)
    @blp.response(200, CaseLabelSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "No such survivor, or not on the caller's caseload")
    @refusal(blp, 422, "Not one line of at most 80 characters")
    def put(self, data: dict[str, Any], survivor_id: uuid.UUID) -> dict[str, Any]:
        """Name the survivor's case on staff screens (null or blank clears it); audited."""
        s, rt = session(), runtime()
        # A write: her caseload only, never a break-glass grant (read-only).
        access = require_staff_access(
            s,
            rt.clock,
            admitted(StaffPrincipal),
            survivor_id,
            action="case_label.write",
            write=True,
        )
        label = case_labels.set_case_label(s, access, rt.clock, rt.vault, label=data["case_label"])
        return {"survivor_id": survivor_id, "case_label": label.text if label else None}


@allow(SUPERVISOR)
@blp.route("/supervisor/survivors/<uuid:survivor_id>/advocates")
class SurvivorAdvocates(MethodView):
    @blp.response(200, AssignmentListSchema)
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor")
    def get(self, survivor_id: uuid.UUID) -> dict[str, list[CaseloadEntry]]:
        """Who is assigned to a survivor (ids only)."""
        return {"items": caseload.survivor_caseload(session(), survivor_id)}

    @blp.arguments(AssignSchema)
    @blp.response(201, AssignmentSchema)
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor")
    @refusal(blp, 409, "Already assigned")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> CaseloadEntry:
        """Assign an active advocate or supervisor to a survivor."""
        return caseload.assign(
            session(), runtime().clock, admitted(StaffPrincipal), survivor_id, data["staff_id"]
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
        caseload.unassign(
            session(), runtime().clock, admitted(StaffPrincipal), survivor_id, staff_id
        )


@allow(SUPERVISOR)
@blp.route("/supervisor/survivors/<uuid:survivor_id>/break-glass")
class BreakGlass(MethodView):
    @blp.arguments(BreakGlassRequestSchema)
    @blp.response(201, BreakGlassGrantSchema)
    @refusal(blp, 401, "A fresh second factor is required (step-up)")
    @refusal(blp, 403, "Not a supervisor")
    @refusal(blp, 404, "No such survivor")
    @refusal(blp, 409, "Nobody else could be notified")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> break_glass.BreakGlassResult:
        """Open a one-hour, read-only, audited and notified access to one survivor."""
        supervisor = admitted(StaffPrincipal)
        rt = runtime()
        require_fresh_second_factor(supervisor, rt.clock)
        return break_glass.open_break_glass(
            session(), rt.clock, rt.vault, supervisor, survivor_id, data["reason"]
        )


@allow(SURVIVOR)
@log_blp.route("/survivor/access-log")
class AccessLog(MethodView):
    @log_blp.arguments(AccessLogQuerySchema, location="query")
    @log_blp.response(200, AccessLogPageSchema)
    @refusal(log_blp, 403, "Not a survivor's app")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Who read or changed my record, newest first."""
        items, cursor = access_log.access_log(
            session(), admitted(SurvivorPrincipal), limit=args["limit"], after=args.get("cursor")
        )
        return {"items": items, "next_cursor": cursor}
