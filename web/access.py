"""Deny by default, before anything else looks at the request.

1. Every endpoint needs an authenticated principal unless it is on the one reviewed allowlist
   below (``PUBLIC_ENDPOINTS``).
2. Every other endpoint declares who may call it, with ``@allow(rule)`` on its view class (or on
   one method, where a class mixes callers). The rule (``auth.access.permissions``: survivor, staff
   of some roles, a partner key with a scope...) is checked here, right after authentication and
   before any body or query is parsed: the wrong caller gets the same 403 whatever it sends,
   and learns nothing of the route's schema. An endpoint without a rule refuses everyone.

``tests/api/test_access.py`` walks ``app.url_map`` against both.

Pages (the staff console, endpoints of the ``console`` blueprints) are a realm of their own: they
are authenticated only by the page authenticators (the console's cookie) and every other
endpoint only by the API's (a bearer token), so a cookie never reaches ``/v1`` and a token never
opens a page. The same rules and the same allowlist decide both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from flask import Flask, current_app, g, request

from core.errors import Forbidden, NotAuthenticated
from web.db import runtime

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS: frozenset[str] = frozenset(
    {
        "health.Healthz",
        "health.Readyz",
        "api-docs.openapi_json",
        # Twilio webhooks: authenticated by X-Twilio-Signature instead of a bearer token.
        "sms.SmsInbound",
        "sms.SmsStatus",
        # Survivor app: redeem an enrollment code, log in with the PIN, refresh a session.
        "survivor_auth.Enroll",
        "survivor_auth.Login",
        "survivor_auth.Refresh",
        # Staff: the two login steps (password, then code) and accepting an invitation.
        "staff.Login",
        "staff.LoginCode",
        "staff.InvitationAccept",
        # The public halves of the journal export signing keys: whoever holds an exported
        # bundle (a court, a lawyer) must be able to verify it without any account.
        "evidence_keys.EvidenceKeys",
        # Console: its assets, and the sign-in steps before there is a session (the password,
        # then the code; each form carries a CSRF token tied to the browser's cookie).
        "console.static",
        "console.sign_in",
        "console.sign_in_code",
        "console.locked",
    }
)

PAGES_BLUEPRINT = "console"


def is_page() -> bool:
    """Whether this request is for a console page (rather than the JSON API); by its path when
    it matched no route (a 404 or 405 under ``/console/`` is still answered as a page)."""
    blueprint = request.blueprint
    if blueprint is None and request.url_rule is None:
        return request.path == "/" + PAGES_BLUEPRINT or request.path.startswith(
            "/" + PAGES_BLUEPRINT + "/"
        )
    blueprint = blueprint or ""
    return blueprint == PAGES_BLUEPRINT or blueprint.startswith(PAGES_BLUEPRINT + ".")

# An authenticator looks at the request and returns a principal, or None when its scheme does
# not apply; it raises NotAuthenticated when its scheme applies but the credential is bad.
Authenticator = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class Authenticators:
    """The request's credential schemes, tried in order: the first that applies decides. The
    composition root provides them once in the runtime's collaborators (a bearer token for
    ``/v1``; the console's cookie for pages); an app without them refuses every non-public
    endpoint."""

    chain: tuple[Authenticator, ...]
    pages: tuple[Authenticator, ...] = ()


P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)
V = TypeVar("V")

_RULE_ATTR = "_lantern_access_rule"


class AccessRule(Protocol[P_co]):
    """Who may call an endpoint: ``admit`` returns the typed principal or raises the refusal
    (``Forbidden``, or another 403 LanternError). It looks at the principal only."""

    def admit(self, principal: Any) -> P_co: ...


def allow(rule: AccessRule[Any]) -> Callable[[V], V]:
    """Declare who may call a view: on a MethodView class (every method) or on one method."""

    def declare(view: V) -> V:
        setattr(view, _RULE_ATTR, rule)
        return view

    return declare


def rule_for(app: Flask, endpoint: str, method: str) -> AccessRule[Any] | None:
    """The rule declared for one endpoint and method, or None (nobody may call it)."""
    view = app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return getattr(view, _RULE_ATTR, None)
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(view_class, "get", None)  # as MethodView dispatches it
    rule: AccessRule[Any] | None = getattr(handler, _RULE_ATTR, None)
    return rule if rule is not None else getattr(view_class, _RULE_ATTR, None)


def authenticate() -> None:
    """Who is calling, and may they call this endpoint at all (kind, role, scope)."""
    if request.routing_exception is not None or request.endpoint is None:
        return  # 404 and 405 are answered as such, before any credential is looked at
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.method == "OPTIONS" and getattr(
        request.url_rule, "provide_automatic_options", False
    ):
        return  # Flask's own OPTIONS answer carries only the Allow header
    authenticators = runtime().collaborators.find(Authenticators)
    chain: tuple[Authenticator, ...] = ()
    if authenticators is not None:
        chain = authenticators.pages if is_page() else authenticators.chain
    for authenticator in chain:
        principal = authenticator()
        if principal is not None:
            g.principal = principal
            _admit(principal)
            return
    raise NotAuthenticated()


def _admit(principal: Any) -> None:
    assert request.endpoint is not None
    rule = rule_for(current_app, request.endpoint, request.method)
    if rule is None:
        log.error(
            "endpoint without an access rule",
            extra={"event": "access_rule_missing", "endpoint": request.endpoint},
        )
        raise Forbidden("Nobody may call this endpoint.")
    g.lantern_admitted = rule.admit(principal)


def admitted(kind: type[P]) -> P:
    """The principal this request was admitted as, by its endpoint's rule, typed as ``kind``.

    The view's typed accessor: it decides nothing again (kind, role and scope were settled
    before the arguments were parsed). A view expecting another kind than its rule admits is a
    programming error, not a refusal.
    """
    principal = g.get("lantern_admitted")
    if not isinstance(principal, kind):
        raise RuntimeError(f"{request.endpoint} admits no {kind.__name__}; check its rule")
    return principal


def current_principal() -> Any:
    principal = g.get("principal")
    if principal is None:
        raise NotAuthenticated()
    return principal
