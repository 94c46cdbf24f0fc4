"""The console's blueprint and what every page view needs: the signed-in member, rendering
with the layout's context, and the record check for one survivor (the API's, unchanged)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_wtf.csrf import CSRFProtect

from auth.access.permissions import SurvivorAccess, require_staff_access
from auth.principals import PendingStaffPrincipal, StaffPrincipal
from auth.staff import sessions
from console import session as cookie
from core.errors import BadRequest
from web.access import admitted
from web.db import runtime, session

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
csrf = CSRFProtect()


def elsewhere() -> Response:
    """The answer to a navigation from another site: a page that leads on to the same address
    from this one (the browser then sends the Strict cookie), touching no cookie itself."""
    body = render_template("continue.html", target=request.path)
    return Response(body, status=200, mimetype="text/html")


@bp.before_request
def _arrived_from_elsewhere() -> Response | None:
    # Public pages (sign in, locked) would otherwise write or clear the cookie a cross-site
    # navigation did not bring (``console.session.arrived_from_elsewhere``).
    return elsewhere() if cookie.arrived_from_elsewhere() else None


@bp.before_request
def _check_csrf() -> None:
    # Every state-changing form, the sign-in steps included; after authentication (web.access),
    # so that a forged post from a signed-out browser is sent to sign in, and changes nothing.
    csrf.protect()


def me() -> StaffPrincipal:
    return admitted(StaffPrincipal)


def render(template: str, *, status: int = 200, **context: Any) -> Response:
    """A page with the layout's context: who is signed in, and how long until the idle lock."""
    rt = runtime()
    principal = context.pop("principal", None)
    member = None
    if isinstance(principal, StaffPrincipal | PendingStaffPrincipal):
        member = sessions.whoami(session(), principal)[0]
    body = render_template(
        template,
        member=member,
        enrolling=isinstance(principal, PendingStaffPrincipal),
        idle_seconds=rt.settings.staff_idle_minutes * 60,
        **context,
    )
    return Response(body, status=status, mimetype="text/html")


def survivor_access(
    survivor_id: uuid.UUID,
    action: str,
    *,
    write: bool = False,
    subject_kind: str | None = None,
    subject_id: uuid.UUID | None = None,
) -> SurvivorAccess:
    """The API's record check for one survivor (caseload, or read-only break-glass; audited):
    another advocate's survivor is a 404 page, exactly as it is a 404 on ``/v1``."""
    rt = runtime()
    return require_staff_access(
        session(),
        rt.clock,
        me(),
        survivor_id,
        action=action,
        write=write,
        subject_kind=subject_kind,
        subject_id=subject_id,
    )


# C0 controls other than tab, newline and carriage return, and DEL: nothing a person types.
_CONTROL = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))


@bp.before_request
def _check_form() -> None:
    """A form value holding a control character (NUL above all: PostgreSQL refuses it in text)
    or an unpaired surrogate is refused whole, before any view reads it."""
    for values in request.form.listvalues():
        for value in values:
            if any(ch in _CONTROL or "\ud800" <= ch <= "\udfff" for ch in value):
                raise BadRequest("The form holds characters that cannot be stored.")
