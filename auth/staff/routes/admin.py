"""An admin's management of staff: invitations, the staff list, disabling and enabling
accounts, ending their sessions, resetting a second factor (all but the list and ending
sessions need a fresh code)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import ADMIN, require_fresh_second_factor
from auth.principals import StaffPrincipal
from auth.staff import accounts
from auth.staff.routes import StaffSummary, summary
from auth.staff.schemas import (
    StaffInvitationCreateSchema,
    StaffInvitationIssuedSchema,
    StaffListSchema,
    StaffSessionsEndedSchema,
    StaffSummarySchema,
)
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal

admin_blp = Blueprint(
    "staff_admin", __name__, description="Staff accounts and invitations (admins)"
)


def _admin() -> StaffPrincipal:
    return admitted(StaffPrincipal)


@allow(ADMIN)
@admin_blp.route("/admin/invitations")
class Invitations(MethodView):
    @admin_blp.arguments(StaffInvitationCreateSchema)
    @admin_blp.response(201, StaffInvitationIssuedSchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 409, "The email already has an account")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Invite a staff member: the token is shown once, to pass on; it expires."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        issued = accounts.create_invitation(
            session(),
            principal,
            rt.clock,
            rt.settings,
            email=data["email"],
            role=data["role"],
            display_name=data["display_name"],
        )
        return {
            "id": issued.id,
            "invitation_token": issued.token,
            "email": issued.email,
            "role": issued.role,
            "expires_at": issued.expires_at,
        }


@allow(ADMIN)
@admin_blp.route("/admin/staff")
class StaffList(MethodView):
    @admin_blp.response(200, StaffListSchema)
    @refusal(admin_blp, 403, "Not an admin")
    def get(self) -> dict[str, list[StaffSummary]]:
        """Every staff account (no credentials)."""
        _admin()
        return {"staff": [summary(m) for m in accounts.list_staff(session())]}


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/disable")
class StaffDisable(MethodView):
    @admin_blp.response(200, StaffSummarySchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    @refusal(admin_blp, 409, "The last active admin")
    def post(self, staff_id: uuid.UUID) -> StaffSummary:
        """Disable an account; all its sessions end at once."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        return summary(accounts.disable_staff(session(), principal, rt.clock, staff_id=staff_id))


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/sessions/end")
class StaffSessionsEnd(MethodView):
    @admin_blp.response(200, StaffSessionsEndedSchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    def post(self, staff_id: uuid.UUID) -> dict[str, int]:
        """End every session of one staff member."""
        ended = accounts.end_sessions_of(session(), _admin(), runtime().clock, staff_id=staff_id)
        return {"ended": ended}


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/reset-second-factor")
class StaffResetSecondFactor(MethodView):
    @admin_blp.response(200, StaffSummarySchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    @refusal(admin_blp, 409, "Admins cannot reset their own authenticator")
    def post(self, staff_id: uuid.UUID) -> StaffSummary:
        """Clear a member's authenticator and recovery codes; they enrol again at next login."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        member = accounts.reset_second_factor(session(), principal, rt.clock, staff_id=staff_id)
        return summary(member)


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/enable")
class StaffEnable(MethodView):
    @admin_blp.response(200, StaffSummarySchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    def post(self, staff_id: uuid.UUID) -> StaffSummary:
        """Re-enable a disabled account (the member logs in again)."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        return summary(accounts.enable_staff(session(), principal, rt.clock, staff_id=staff_id))
