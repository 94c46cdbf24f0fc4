"""Signing in and out: the API's two login steps and TOTP enrolment, on the console channel.

Every failure renders the same page with the same words and status (401), after the same
argon2 work and attempt slots as ``POST /v1/staff/login``: the services decide, this only
carries their answer to a form.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import segno
from flask import Response, redirect, request, url_for

from auth.access.permissions import CASEWORKER, ENROLLING_STAFF, STAFF_SESSION
from auth.authn import CONSOLE_CHANNEL
from auth.deps import AuthDeps
from auth.principals import PendingStaffPrincipal, StaffPrincipal
from auth.staff import enrolment, login, sessions
from console import session as cookie
from console.forms import CodeForm, EnrolForm, PlainForm, SignInForm
from console.pages import bp, render
from core.errors import LanternError, NotAuthenticated
from web.access import admitted, allow
from web.db import runtime, session

FAILED = (
    "The email, password or code was not accepted, or the sign-in took too long. Check them "
    "and start again; after several failures, wait before retrying."
)


def _deps() -> AuthDeps:
    return runtime().collaborators.need(AuthDeps)


def _see_other(endpoint: str) -> Response:
    return redirect(url_for(endpoint), code=303)  # type: ignore[return-value]


@bp.get("/")
@allow(STAFF_SESSION)
def home() -> Response:
    """Where a signed-in member starts: Today for those who work a caseload, their account
    for everyone else (admins), and the enrolment pages for a session still enrolling."""
    principal = admitted(StaffPrincipal | PendingStaffPrincipal)  # type: ignore[arg-type]
    if isinstance(principal, PendingStaffPrincipal):
        return _see_other("console.enrol")
    return _see_other("console.today" if principal.role in CASEWORKER.roles else "console.account")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    form = SignInForm()
    if request.method == "GET":
        return render("sign_in.html", form=form, note=request.args.get("note"))
    if not form.validate_on_submit():
        return render("sign_in.html", form=form, failed=FAILED, status=401)
    try:
        ticket = login.begin_login(
            session(),
            runtime().clock,
            _deps(),
            email=form.email.data or "",
            password=form.password.data or "",
            client_address=request.remote_addr,
            channel=CONSOLE_CHANNEL,
        )
    except login.LoginFailed:
        return render("sign_in.html", form=SignInForm(formdata=None), failed=FAILED, status=401)
    _end_held_session()
    if ticket.next == "enroll":
        # Without an authenticator the password is the whole sign-in, so the session it opens
        # reaches the enrolment pages and nothing else (``ENROLLING_STAFF``).
        cookie.begin(ticket.token)
        return _see_other("console.enrol")
    cookie.hold_ticket(ticket.token)
    return _see_other("console.sign_in_code")


def _end_held_session() -> None:
    """The cookie is about to be replaced: the console session it held, if still live, ends
    now rather than live on (until its idle limit) where this browser can no longer sign it
    out, and any copy of the old cookie with it."""
    try:
        held = cookie.page_authenticator()
    except NotAuthenticated:
        return  # already over
    if isinstance(held, StaffPrincipal | PendingStaffPrincipal):
        sessions.logout(session(), held, runtime().clock)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code() -> Response:
    form = CodeForm()
    ticket = cookie.ticket()
    if ticket is None:
        return _see_other("console.sign_in")
    if request.method == "GET":
        return render("sign_in_code.html", form=form)
    if not form.validate_on_submit():
        return render("sign_in_code.html", form=form, failed=FAILED, status=401)
    try:
        issued = login.complete_login(
            session(),
            runtime().clock,
            _deps(),
            login_token=ticket,
            code=form.code.data or None,
            recovery_code=form.recovery_code.data or None,
            client_address=request.remote_addr,
            channel=CONSOLE_CHANNEL,
        )
    except login.LoginFailed:
        return render("sign_in_code.html", form=CodeForm(formdata=None), failed=FAILED, status=401)
    cookie.begin(issued.token)
    return _see_other("console.home")


@bp.get("/enrol")
@allow(ENROLLING_STAFF)
def enrol() -> Response:
    principal = admitted(PendingStaffPrincipal)
    return render("enrol_start.html", principal=principal, form=PlainForm())


@bp.post("/enrol/start")
@allow(ENROLLING_STAFF)
def enrol_start() -> Response:
    """A fresh seed, shown once in this answer (a QR code and the key for typing in); it is
    never put in a URL, and a reload starts another."""
    principal = admitted(PendingStaffPrincipal)
    rt = runtime()
    provisioning = enrolment.start_enrolment(session(), principal, rt.clock, rt.keyring)
    return _enrol_page(principal, provisioning.otpauth_uri, EnrolForm(formdata=None))


def _enrol_page(
    principal: PendingStaffPrincipal,
    uri: str | None,
    form: EnrolForm,
    *,
    failed: str | None = None,
    status: int = 200,
) -> Response:
    qr = key = None
    if uri is not None:
        qr = segno.make(uri, error="m").svg_data_uri(scale=5)
        key = parse_qs(urlparse(uri).query).get("secret", [""])[0]
    return render(
        "enrol.html", principal=principal, form=form, qr=qr, key=key, failed=failed, status=status
    )


@bp.post("/enrol")
@allow(ENROLLING_STAFF)
def enrol_confirm() -> Response:
    principal = admitted(PendingStaffPrincipal)
    form = EnrolForm()
    if not form.validate_on_submit():
        return _enrol_page(principal, None, form, failed="Enter the six-digit code.", status=422)
    try:
        result = enrolment.confirm_enrolment(
            session(), principal, runtime().clock, _deps(), code=form.code.data or ""
        )
    except LanternError as error:
        if error.status >= 500 or isinstance(error, NotAuthenticated):
            raise
        return _enrol_page(principal, None, form, failed=error.detail, status=error.status)
    cookie.begin(result.session_token)
    # Shown once, in this answer only (no-store): the page says to keep them somewhere safe.
    return render("recovery_codes.html", codes=result.recovery_codes)


@bp.post("/sign-out")
@allow(STAFF_SESSION)
def sign_out() -> Response:
    principal = admitted(StaffPrincipal | PendingStaffPrincipal)  # type: ignore[arg-type]
    sessions.logout(session(), principal, runtime().clock)
    cookie.end()
    return redirect(url_for("console.sign_in", note="signed-out"), code=303)  # type: ignore[return-value]


@bp.get("/locked")
def locked() -> Response:
    """Where the idle countdown ends: nothing of any record; the cookie is dropped unless its
    session is still live because another tab of this browser is in use."""
    if not cookie.live():
        cookie.end()
    return render("locked.html")
