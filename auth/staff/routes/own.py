"""A staff member's own identity: two-step login, TOTP enrolment, sessions, credentials and
duty. Thin views: parse, authorise, call one service, dump."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import ENROLLING_STAFF, STAFF, STAFF_SESSION
from auth.deps import AuthDeps
from auth.principals import PendingStaffPrincipal, StaffPrincipal
from auth.staff import accounts, enrolment, login, phone, sessions
from auth.staff.routes import StaffSummary, summary
from auth.staff.schemas import (
    DutySchema,
    DutyUpdateSchema,
    StaffCodeSchema,
    StaffEnrolmentResultSchema,
    StaffInvitationAcceptSchema,
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

_LOGIN_FAILED = "Login failed (every reason answers the same)"


def _pending_or_staff() -> StaffPrincipal | PendingStaffPrincipal:
    principal: StaffPrincipal | PendingStaffPrincipal = current_principal()  # STAFF_SESSION
    return principal


def _pending() -> PendingStaffPrincipal:
    return admitted(PendingStaffPrincipal)


def _deps() -> AuthDeps:
    return runtime().collaborators.need(AuthDeps)


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
        ticket = login.begin_login(
            session(),
            runtime().clock,
            _deps(),
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
        issued = login.complete_login(
            session(),
            runtime().clock,
            _deps(),
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
    def post(self, data: dict[str, Any]) -> StaffSummary:
        """Create the invited account (no authenticator yet: log in and enrol next)."""
        member = accounts.accept_invitation(
            session(),
            runtime().clock,
            _deps(),
            token=data["invitation_token"],
            password=data["password"],
            display_name=data.get("display_name"),
            client_address=request.remote_addr,
        )
        return summary(member)


# --- TOTP enrolment -------------------------------------------------------------------------


@allow(ENROLLING_STAFF)
@blp.route("/staff/totp/enroll")
class TotpEnroll(MethodView):
    @blp.response(200, StaffTotpProvisioningSchema)
    @refusal(blp, 403, "Not an enrolment session")
    def post(self) -> Any:
        """A new authenticator seed as an otpauth:// URI and an SVG QR code (replaces any
        unconfirmed one)."""
        rt = runtime()
        return enrolment.start_enrolment(session(), _pending(), rt.clock, rt.keyring)


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
        result = enrolment.confirm_enrolment(
            session(), _pending(), runtime().clock, _deps(), code=data["code"]
        )
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
        sessions.start_totp_reset(
            session(),
            admitted(StaffPrincipal),
            runtime().clock,
            _deps(),
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
        member, row = sessions.whoami(session(), _pending_or_staff())
        return {
            **summary(member),
            "session_stage": row.stage,
            "second_factor_at": row.second_factor_at,
        }


@allow(STAFF_SESSION)
@blp.route("/staff/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self) -> None:
        """End this session."""
        sessions.logout(session(), _pending_or_staff(), runtime().clock)


@allow(STAFF)
@blp.route("/staff/sessions")
class Sessions(MethodView):
    @blp.response(200, StaffSessionListSchema)
    def get(self) -> dict[str, Any]:
        """My live sessions (this one marked `current`)."""
        principal = admitted(StaffPrincipal)
        rt = runtime()
        rows = sessions.live_sessions(session(), principal, rt.clock, rt.settings)
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
        return {"ended": sessions.end_other_sessions(session(), principal, runtime().clock)}


@allow(STAFF)
@blp.route("/staff/password")
class PasswordChange(MethodView):
    @blp.arguments(StaffPasswordChangeSchema)
    @blp.response(200, StaffSessionsEndedSchema)
    @refusal(blp, 403, "Password or code not accepted")
    def post(self, data: dict[str, Any]) -> dict[str, int]:
        """Change my password (current password and a fresh code); my other sessions end."""
        ended = sessions.change_password(
            session(),
            admitted(StaffPrincipal),
            runtime().clock,
            _deps(),
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
        at = sessions.step_up(
            session(), admitted(StaffPrincipal), runtime().clock, _deps(), code=data["code"]
        )
        return {"second_factor_at": at}


@allow(STAFF)
@blp.route("/staff/me/duty")
class Duty(MethodView):
    @blp.response(200, DutySchema)
    def get(self) -> dict[str, Any]:
        """Am I on duty, and which phone gets urgent escalations (masked)."""
        principal = admitted(StaffPrincipal)
        member = sessions.whoami(session(), principal)[0]
        return {"on_duty": member.on_duty, "phone": phone.masked(runtime().keyring, member)}

    @blp.arguments(DutyUpdateSchema)
    @blp.response(200, DutySchema)
    @refusal(blp, 422, "Not a phone number")
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Go on or off duty; set or clear the phone urgent escalations are texted to."""
        principal = admitted(StaffPrincipal)
        rt = runtime()
        member = phone.set_duty(
            session(),
            rt.clock,
            rt.keyring,
            principal,
            phone=data.get("phone"),
            clear_phone="phone" in data and data["phone"] is None,
            on_duty=data.get("on_duty"),
        )
        return {"on_duty": member.on_duty, "phone": phone.masked(rt.keyring, member)}
