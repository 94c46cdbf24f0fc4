"""The console's cookie session: which staff session a browser holds, and the sign-in state.

Flask's signed session cookie (``__Host-lantern``: HttpOnly, Secure, SameSite=Strict, path /)
carries three things: the CSRF secret (Flask-WTF), the login ticket between the password and the
code steps, and the console session token (``sc_...``, a ``StaffSession`` row on the console
channel). The cookie is only a carrier: the row decides, so signing out, an idle or absolute
expiry, a disabled account or "sign out the others" end the session wherever its cookie is.
Every sign-in clears the cookie and issues a new token and a new CSRF secret.
"""

from __future__ import annotations

from flask import request, session

from auth.authn import console_staff
from auth.principals import Principal
from core.errors import NotAuthenticated
from web.db import runtime
from web.db import session as db_session

SID = "sid"
TICKET = "ticket"
COOKIE_NAME = "__Host-lantern"

# Background refreshes (the queue on "Today") say so, and do not count as someone at the desk.
PASSIVE_HEADER = "X-Lantern-Passive"


def _principal(*, touch: bool) -> Principal | None:
    token = session.get(SID)
    if not isinstance(token, str):
        return None
    rt = runtime()
    return console_staff(db_session(), rt.clock, rt.settings, token, touch=touch)


def page_authenticator() -> Principal | None:
    """The principal of the browser's console session; None without one (the page then asks
    the browser to sign in)."""
    return _principal(touch=request.headers.get(PASSIVE_HEADER) != "1")


def arrived_from_elsewhere() -> bool:
    """A page opened by a link on another site (a webmail, a hostile page's ``window.open``).

    The cookie is ``SameSite=Strict``, so such a navigation arrives without it even when this
    browser is signed in; the answer must then neither clear the cookie nor write a new one,
    or the link alone would sign the advocate out (``console.errors.elsewhere``)."""
    return (
        request.method in ("GET", "HEAD")
        and request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site"
    )


def live() -> bool:
    """Whether the cookie holds a session that is still live, without counting this request
    as activity (the idle lock of one tab must not sign out another tab still in use)."""
    try:
        return _principal(touch=False) is not None
    except NotAuthenticated:
        return False


def begin(token: str) -> None:
    """A new console session: nothing of the browser's earlier cookie survives."""
    session.clear()
    session[SID] = token


def hold_ticket(token: str) -> None:
    """Between the password and the code: a fresh cookie that holds only the ticket."""
    session.clear()
    session[TICKET] = token


def ticket() -> str | None:
    value = session.get(TICKET)
    return value if isinstance(value, str) else None


def end() -> None:
    session.clear()
