"""Staff identity: two-step login, TOTP enrolment, sessions, credentials, and the admin's
staff management. Thin views: parse, authorise, call one service, dump."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from auth import staff_accounts, staff_enrolment, staff_login, staff_phone, staff_sessions
from auth.models import StaffMember
from auth.permissions import (
    ADMIN,
    ENROLLING_STAFF,
    STAFF,
    STAFF_SESSION,
    require_fresh_second_factor,
)
from auth.principals import PendingStaffPrincipal, StaffPrincipal
from auth.staff_schemas import (
    DutySchema,
    DutyUpdateSchema,
    StaffCodeSchema,
    StaffEnrolmentResultSchema,
    StaffInvitationAcceptSchema,
    StaffInvitationCreateSchema,
    StaffInvitationIssuedSchema,
    StaffListSchema,
    StaffLoginCodeSchema,
    StaffLoginSchema,
    StaffLoginTicketSchema,
    StaffMeSchema,
    StaffNextStepSchema,
    StaffPasswordChangeSchema,
    StaffSessionListSchema,
    StaffSessionsEndedSchema,
    StaffSessionTokenSchema,
    StaffStepUpResultSchema,
    StaffSummarySchema,
    StaffTotpProvisioningSchema,
    StaffTotpResetSchema,
)
from web.access import admitted, allow, current_principal
from web.db import runtime, session
from web.route_docs import refusal, slowed_down

blp = Blueprint("staff", __name__, description="Staff login, TOTP, sessions and credentials")
admin_blp = Blueprint(
    "staff_admin", __name__, description="Staff accounts and invitations (admins)"
)

_LOGIN_FAILED = "Login failed (every reason answers the same)"


def _pending_or_staff() -> StaffPrincipal | PendingStaffPrincipal:
    principal: StaffPrincipal | PendingStaffPrincipal = current_principal()  # STAFF_SESSION
    return principal


def _pending() -> PendingStaffPrincipal:
    return admitted(PendingStaffPrincipal)


def _admin() -> StaffPrincipal:
    return admitted(StaffPrincipal)


def _summary(member: StaffMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "email": member.email,
        "display_name": member.display_name,
        "role": member.role,
        "enrolled": member.totp_enrolled_at is not None,
        "disabled": member.disabled_at is not None,
    }


# --- login (public) -------------------------------------------------------------------------


_slow_down = slowed_down(blp)


@blp.route("/staff/login")
class Login(MethodView):
    @blp.arguments(StaffLoginSchema)
    @blp.response(200, StaffLoginTicketSchema)
    @refusal(blp, 401, _LOGIN_FAILED)
    @_slow_down
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Step one: email and password. Answers a 5-minute ticket for the code step, or an
        enrolment token (`next: enroll`) when no authenticator is enrolled yet."""
        ticket = staff_login.begin_login(
            session(),
            runtime(),
            email=data["email"],
            password=data["password"],
            client_address=request.remote_addr,
        )
        return {"login_token": ticket.token, "next": ticket.next, "expires_at": ticket.expires_at}


@blp.route("/staff/login/code")
class LoginCode(MethodView):
    @blp.arguments(StaffLoginCodeSchema)
    @blp.response(200, StaffSessionTokenSchema)
    @refusal(blp, 401, _LOGIN_FAILED)
    @_slow_down
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Step two: an authenticator code (or one recovery code) turns the ticket into a
        session; the ticket stops working."""
        issued = staff_login.complete_login(
            session(),
            runtime(),
            login_token=data["login_token"],
            code=data.get("code"),
            recovery_code=data.get("recovery_code"),
            client_address=request.remote_addr,
        )
        return {"session_token": issued.token, "expires_at": issued.expires_at}


@blp.route("/staff/invitations/accept")
class InvitationAccept(MethodView):
    @blp.arguments(StaffInvitationAcceptSchema)
    @blp.response(201, StaffSummarySchema)
    @refusal(blp, 404, "Unknown, used, revoked or expired invitation")
    @refusal(blp, 409, "The email already has an account")
    @_slow_down
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create the invited account (no authenticator yet: log in and enrol next)."""
        member = staff_accounts.accept_invitation(
            session(),
            runtime(),
            token=data["invitation_token"],
            password=data["password"],
            display_name=data.get("display_name"),
            client_address=request.remote_addr,
        )
        return _summary(member)


# --- TOTP enrolment -------------------------------------------------------------------------


@allow(ENROLLING_STAFF)
@blp.route("/staff/totp/enroll")
class TotpEnroll(MethodView):
    @blp.response(200, StaffTotpProvisioningSchema)
    @refusal(blp, 403, "Not an enrolment session")
    def post(self) -> Any:
        """A new authenticator seed as an otpauth:// URI and an SVG QR code (replaces any
        unconfirmed one)."""
        return staff_enrolment.start_enrolment(session(), runtime(), _pending())


@allow(ENROLLING_STAFF)
@blp.route("/staff/totp/confirm")
class TotpConfirm(MethodView):
    @blp.arguments(StaffCodeSchema)
    @blp.response(200, StaffEnrolmentResultSchema)
    @refusal(blp, 403, "Not an enrolment session")
    @refusal(blp, 409, "No enrolment started")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Confirm the new authenticator with one of its codes. Answers ten recovery codes
        (shown once) and a new full session token; every other session ends."""
        result = staff_enrolment.confirm_enrolment(session(), runtime(), _pending(), data["code"])
        return {
            "recovery_codes": result.recovery_codes,
            "session_token": result.session_token,
            "expires_at": result.expires_at,
        }


@allow(STAFF)
@blp.route("/staff/totp/reset")
class TotpReset(MethodView):
    @blp.arguments(StaffTotpResetSchema)
    @blp.response(200, StaffNextStepSchema)
    @refusal(blp, 403, "Password or code not accepted")
    def post(self, data: dict[str, Any]) -> dict[str, str]:
        """Start replacing the authenticator (current password and a code or recovery code):
        this session may then only enrol; every other session ends."""
        staff_sessions.start_totp_reset(
            session(),
            runtime(),
            admitted(StaffPrincipal),
            current_password=data["current_password"],
            code=data.get("code"),
            recovery_code=data.get("recovery_code"),
        )
        return {"next": "enroll"}


# --- own sessions and credentials -----------------------------------------------------------


@allow(STAFF_SESSION)
@blp.route("/staff/me")
class Me(MethodView):
    @blp.response(200, StaffMeSchema)
    def get(self) -> dict[str, Any]:
        """Who I am, and the state of this session."""
        member, row = staff_sessions.whoami(session(), _pending_or_staff())
        return {
            **_summary(member),
            "session_stage": row.stage,
            "second_factor_at": row.second_factor_at,
        }


@allow(STAFF_SESSION)
@blp.route("/staff/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self) -> None:
        """End this session."""
        staff_sessions.logout(session(), runtime(), _pending_or_staff())


@allow(STAFF)
@blp.route("/staff/sessions")
class Sessions(MethodView):
    @blp.response(200, StaffSessionListSchema)
    def get(self) -> dict[str, Any]:
        """My live sessions (this one marked `current`)."""
        principal = admitted(StaffPrincipal)
        rows = staff_sessions.live_sessions(session(), runtime(), principal.staff_id)
        return {
            "sessions": [
                {
                    "id": row.id,
                    "stage": row.stage,
                    "created_at": row.created_at,
                    "last_seen_at": row.last_seen_at,
                    "expires_at": row.expires_at,
                    "current": row.id == principal.session_id,
                }
                for row in rows
            ]
        }


@allow(STAFF)
@blp.route("/staff/sessions/end-others")
class EndOtherSessions(MethodView):
    @blp.response(200, StaffSessionsEndedSchema)
    def post(self) -> dict[str, int]:
        """Log out my other sessions."""
        principal = admitted(StaffPrincipal)
        return {"ended": staff_sessions.end_other_sessions(session(), runtime(), principal)}


@allow(STAFF)
@blp.route("/staff/password")
class PasswordChange(MethodView):
    @blp.arguments(StaffPasswordChangeSchema)
    @blp.response(200, StaffSessionsEndedSchema)
    @refusal(blp, 403, "Password or code not accepted")
    def post(self, data: dict[str, Any]) -> dict[str, int]:
        """Change my password (current password and a fresh code); my other sessions end."""
        ended = staff_sessions.change_password(
            session(),
            runtime(),
            admitted(StaffPrincipal),
            current_password=data["current_password"],
            code=data["code"],
            new_password=data["new_password"],
        )
        return {"ended": ended}


@allow(STAFF)
@blp.route("/staff/step-up")
class StepUp(MethodView):
    @blp.arguments(StaffCodeSchema)
    @blp.response(200, StaffStepUpResultSchema)
    @refusal(blp, 403, "Code not accepted")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Give a fresh code: sensitive actions are allowed for the next 15 minutes."""
        at = staff_sessions.step_up(session(), runtime(), admitted(StaffPrincipal), data["code"])
        return {"second_factor_at": at}


# --- admin ----------------------------------------------------------------------------------


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
        issued = staff_accounts.create_invitation(
            session(),
            rt,
            principal,
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
    def get(self) -> dict[str, Any]:
        """Every staff account (no credentials)."""
        _admin()
        return {"staff": [_summary(m) for m in staff_accounts.list_staff(session())]}


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/disable")
class StaffDisable(MethodView):
    @admin_blp.response(200, StaffSummarySchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    @refusal(admin_blp, 409, "The last active admin")
    def post(self, staff_id: uuid.UUID) -> dict[str, Any]:
        """Disable an account; all its sessions end at once."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        return _summary(staff_accounts.disable_staff(session(), rt, principal, staff_id))


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/sessions/end")
class StaffSessionsEnd(MethodView):
    @admin_blp.response(200, StaffSessionsEndedSchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    def post(self, staff_id: uuid.UUID) -> dict[str, int]:
        """End every session of one staff member."""
        return {"ended": staff_accounts.end_sessions_of(session(), runtime(), _admin(), staff_id)}


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/reset-second-factor")
class StaffResetSecondFactor(MethodView):
    @admin_blp.response(200, StaffSummarySchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    @refusal(admin_blp, 409, "Admins cannot reset their own authenticator")
    def post(self, staff_id: uuid.UUID) -> dict[str, Any]:
        """Clear a member's authenticator and recovery codes; they enrol again at next login."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        return _summary(staff_accounts.reset_second_factor(session(), rt, principal, staff_id))


@allow(ADMIN)
@admin_blp.route("/admin/staff/<uuid:staff_id>/enable")
class StaffEnable(MethodView):
    @admin_blp.response(200, StaffSummarySchema)
    @refusal(admin_blp, 401, "A fresh code is needed (step-up)")
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such staff member")
    def post(self, staff_id: uuid.UUID) -> dict[str, Any]:
        """Re-enable a disabled account (the member logs in again)."""
        principal = _admin()
        rt = runtime()
        require_fresh_second_factor(principal, rt.clock)
        return _summary(staff_accounts.enable_staff(session(), rt, principal, staff_id))


@allow(STAFF)
@blp.route("/staff/me/duty")
class Duty(MethodView):
    @blp.response(200, DutySchema)
    def get(self) -> dict[str, Any]:
        """Am I on duty, and which phone gets urgent escalations (masked)."""
        principal = admitted(StaffPrincipal)
        member = staff_sessions.whoami(session(), principal)[0]
        return {"on_duty": member.on_duty, "phone": staff_phone.masked(runtime().keyring, member)}

    @blp.arguments(DutyUpdateSchema)
    @blp.response(200, DutySchema)
    @refusal(blp, 422, "Not a phone number")
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Go on or off duty; set or clear the phone urgent escalations are texted to."""
        principal = admitted(StaffPrincipal)
        rt = runtime()
        member = staff_phone.set_duty(
            session(),
            rt.clock,
            rt.keyring,
            principal,
            phone=data.get("phone"),
            clear_phone="phone" in data and data["phone"] is None,
            on_duty=data.get("on_duty"),
        )
        return {"on_duty": member.on_duty, "phone": staff_phone.masked(rt.keyring, member)}
