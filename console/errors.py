"""Errors on console pages are pages: the same hierarchy as the API's problem+json, rendered for
people, with the same rollback rules (``web.problems`` marks the unit of work failed).

A page that needs a signed-in member and has none sends the browser to sign in (a background
refresh gets a bare 401, and its script does the same).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from auth.principals import PendingStaffPrincipal, StaffPrincipal
from console import session as cookie
from console.pages import elsewhere, render
from core.errors import LanternError, NotAuthenticated
from web import problems
from web.access import is_page

_GENERIC = {
    400: ("Something in the form was not accepted", "Go back, check it and send it again."),
    403: ("Not allowed", "Your role does not let you do this."),
    404: ("Not found", "There is nothing here, or it is not on your caseload."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What you sent is larger than the console accepts."),
    415: ("Not accepted", "Send the form from the console's own page."),
}


def _page(status: int, title: str, detail: str) -> Response:
    # A signed-in member keeps the layout's header on an error page: signing out, and the
    # idle lock (an admin's every casework page is a 403). Not on a server error: the database
    # may be what failed.
    principal = g.get("principal") if status < 500 else None
    if isinstance(principal, StaffPrincipal | PendingStaffPrincipal):
        return render("error.html", principal=principal, status=status, title=title, detail=detail)
    body = render_template("error.html", status=status, title=title, detail=detail)
    return Response(body, status=status, mimetype="text/html")


def not_signed_in(_error: NotAuthenticated) -> Response:
    problems.handle_lantern_error(NotAuthenticated())  # the same rollback as the API's answer
    if cookie.arrived_from_elsewhere():
        return elsewhere()
    if session:  # never write a cookie the request did not bring
        cookie.end()
    if request.headers.get(cookie.PASSIVE_HEADER) == "1":
        return Response("", status=401)
    return redirect(url_for("console.sign_in"), code=303)  # type: ignore[return-value]


def lantern_error(error: LanternError) -> Response:
    if isinstance(error, NotAuthenticated):
        return not_signed_in(error)
    problems.handle_lantern_error(error)
    response = _page(error.status, error.title, error.detail)
    for name, value in error.headers.items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def csrf_error(_error: CSRFError) -> Response:
    problems.handle_http_exception(_error)
    return _page(
        400,
        "This form has expired",
        "The form was not sent from this console, or your session changed since it was shown. "
        "Nothing was changed. Go back, reload the page and try again.",
    )


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        return unexpected(error)
    problems.handle_http_exception(error)
    title, detail = _GENERIC.get(status, (error.name, "The request was not accepted."))
    response = _page(status, title, detail)
    if status == 405:
        response.headers["Allow"] = ", ".join(error.get_response().headers.getlist("Allow"))
    return response


def unexpected(error: BaseException) -> Response:
    # Logged (class only) and rolled back the API's way; the person gets a page, not JSON.
    answer = problems.handle_unexpected(error)
    if answer.status_code < 500:  # a LanternError wrapped by Flask
        return lantern_error(getattr(error, "original_exception", error))  # type: ignore[arg-type]
    response = _page(
        answer.status_code,
        "Something went wrong",
        "Nothing was changed. Try again in a moment; if it keeps happening, tell your "
        "administrator the time it happened.",
    )
    if "Retry-After" in answer.headers:
        response.headers["Retry-After"] = answer.headers["Retry-After"]
    return response


def register(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(CSRFError, csrf_error)
    blueprint.register_error_handler(LanternError, lantern_error)
    blueprint.register_error_handler(HTTPException, http_error)
    blueprint.register_error_handler(Exception, unexpected)


def _unrouted(error: HTTPException) -> Response:
    """A 404 or 405 that matched no route: a page under /console/, problem+json elsewhere
    (no blueprint's handler sees an error raised before routing)."""
    return http_error(error) if is_page() else problems.handle_http_exception(error)


def register_unrouted(app: Flask) -> None:
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
