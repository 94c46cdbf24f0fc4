"""My account: the signed-in member's own password, authenticator, sessions and duty phone.

Every change is the API's service (``auth.staff.sessions``, ``auth.staff.phone``) with the
API's checks, attempt counters and audit records; these views only carry a form to it and its
answer back. A refused form is shown again with the service's own words, under the API's
rollback rule: a refusal keeps what its error keeps (an audited, counted failure of the
current password or code) and nothing else (a refused new password does not use up the code).
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for
from flask_wtf import FlaskForm

from auth.access.permissions import STAFF
from auth.deps import AuthDeps
from auth.staff import phone, sessions
from console.forms import AuthenticatorResetForm, DutyPhoneForm, PasswordChangeForm, PlainForm
from console.pages import bp, me, render
from core.errors import InvalidInput, LanternError
from web import problems
from web.access import allow
from web.db import runtime, session

# What the page says after a change; the redirect names one of these, never a value.
NOTES = {
    "password-changed": "Your password is changed. Your other sessions were signed out.",
    "duty-saved": "Your on-duty settings are saved.",
    "phone-removed": "Your on-duty phone is removed.",
    "others-ended": "Your other sessions are signed out.",
}
MISMATCH = "The two new passwords are not the same."
CHANNELS = {"console": "Web console", "api": "App or API"}
STAGES = {"password": "signing in", "enroll": "setting up an authenticator"}


def _deps() -> AuthDeps:
    return runtime().collaborators.need(AuthDeps)


def _done(endpoint: str, note: str) -> Response:
    return redirect(url_for(endpoint, note=note), code=303)  # type: ignore[return-value]


def _note() -> str | None:
    return NOTES.get(request.args.get("note") or "")


def _refusal(error: LanternError) -> str:
    """The service's refusal in words for the form, the request marked as the API's error
    handler marks it, so that the unit of work keeps or rolls back exactly as on ``/v1``."""
    problems.handle_lantern_error(error)
    fields: dict[str, Any] = error.extra.get("errors") or {}
    reasons = [str(m) for messages in fields.values() for m in messages]
    return " ".join(reasons) or error.detail


def _form_refusal(form: FlaskForm) -> str:
    """What the form's own bounds refused (a field missing or too long), by field label;
    nothing typed is repeated."""
    return " ".join(
        f"{form[name].label.text}: {message}"
        for name, messages in form.errors.items()
        if name != "csrf_token" and isinstance(messages, list)
        for message in messages
    )


def _account_page(*, failed: dict[str, str] | None = None, status: int = 200) -> Response:
    principal = me()
    rt = runtime()
    member = sessions.whoami(session(), principal)[0]
    masked = phone.masked(rt.keyring, member)
    return render(
        "account.html",
        principal=principal,
        phone_end=masked[-2:] if masked else None,
        phone_masked=masked,
        on_duty=member.on_duty,
        failed=failed or {},
        note=_note() if request.method == "GET" else None,
        status=status,
    )


@bp.get("/account")
@allow(STAFF)
def account() -> Response:
    return _account_page()


@bp.post("/account/password")
@allow(STAFF)
def account_password() -> Response:
    """``POST /v1/staff/password``: the current password and a fresh code, then the policy;
    every other session (API tokens too) ends, this one stays signed in."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _account_page(failed={"password": _form_refusal(form)}, status=422)
    if form.new_password.data != form.new_password_again.data:
        # Before the service: a typo costs no attempt and uses up no code.
        return _account_page(failed={"password": MISMATCH}, status=422)
    try:
        sessions.change_password(
            session(),
            me(),
            runtime().clock,
            _deps(),
            current_password=form.current_password.data or "",
            code=form.code.data or "",
            new_password=form.new_password.data or "",
        )
    except (sessions.ReauthenticationFailed, InvalidInput) as error:
        return _account_page(failed={"password": _refusal(error)}, status=error.status)
    return _done("console.account", "password-changed")


@bp.post("/account/authenticator")
@allow(STAFF)
def account_authenticator() -> Response:
    """``POST /v1/staff/totp/reset``: this session may then only enrol a new authenticator,
    and the sign-in's enrolment pages take it from there (the QR code, the key for typing in,
    new recovery codes shown once). Every other session ends; the old authenticator keeps
    working for sign-in until the new one is confirmed."""
    form = AuthenticatorResetForm()
    if not form.validate_on_submit():
        return _account_page(failed={"authenticator": _form_refusal(form)}, status=422)
    try:
        sessions.start_totp_reset(
            session(),
            me(),
            runtime().clock,
            _deps(),
            current_password=form.current_password.data or "",
            code=form.code.data or None,
            recovery_code=form.recovery_code.data or None,
        )
    except sessions.ReauthenticationFailed as error:
        return _account_page(failed={"authenticator": _refusal(error)}, status=error.status)
    return redirect(url_for("console.enrol"), code=303)  # type: ignore[return-value]


@bp.post("/account/duty")
@allow(STAFF)
def account_duty() -> Response:
    """``PUT /v1/staff/me/duty``: on or off duty, and a new phone when one is typed (left
    empty, the phone stays as it is)."""
    form = DutyPhoneForm()
    if not form.validate_on_submit():
        return _account_page(failed={"phone": _form_refusal(form)}, status=422)
    rt = runtime()
    try:
        phone.set_duty(
            session(),
            rt.clock,
            rt.keyring,
            me(),
            phone=(form.phone.data or "").strip() or None,
            clear_phone=False,
            on_duty=bool(form.on_duty.data),
        )
    except InvalidInput as error:
        return _account_page(failed={"phone": _refusal(error)}, status=error.status)
    return _done("console.account", "duty-saved")


@bp.post("/account/duty/remove-phone")
@allow(STAFF)
def account_remove_phone() -> Response:
    """``PUT /v1/staff/me/duty`` with ``phone: null``: urgent escalations are no longer
    texted; on or off duty stays as it is."""
    PlainForm()  # nothing but the CSRF token, checked before every console view
    rt = runtime()
    phone.set_duty(
        session(), rt.clock, rt.keyring, me(), phone=None, clear_phone=True, on_duty=None
    )
    return _done("console.account", "phone-removed")


@bp.get("/account/sessions")
@allow(STAFF)
def account_sessions() -> Response:
    """``GET /v1/staff/sessions``: my live sessions on both channels, this one marked."""
    principal = me()
    rt = runtime()
    rows = sessions.live_sessions(session(), principal, rt.clock, rt.settings)
    return render(
        "account_sessions.html",
        principal=principal,
        rows=rows,
        current=principal.session_id,
        channels=CHANNELS,
        stages=STAGES,
        note=_note(),
    )


@bp.post("/account/sessions/end-others")
@allow(STAFF)
def account_end_others() -> Response:
    """``POST /v1/staff/sessions/end-others``: every other session ends, wherever its cookie
    or token is; this one stays."""
    sessions.end_other_sessions(session(), me(), runtime().clock)
    return _done("console.account_sessions", "others-ended")
