"""Deny by default: every endpoint needs an authenticated principal unless named here.

The allowlist is one reviewed list; ``tests/api/test_access.py`` walks ``app.url_map`` and
fails when an endpoint is public without being on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from core.errors import NotAuthenticated

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
    }
)

# An authenticator looks at the request and returns a principal, or None when its scheme does
# not apply; it raises NotAuthenticated when its scheme applies but the credential is bad.
Authenticator = Callable[[], Any]
AUTHENTICATORS_KEY = "lantern.authenticators"


def authenticate() -> None:
    if request.routing_exception is not None or request.endpoint is None:
        return  # 404 and 405 are answered as such, before any credential is looked at
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.method == "OPTIONS" and getattr(
        request.url_rule, "provide_automatic_options", False
    ):
        return  # Flask's own OPTIONS answer carries only the Allow header
    for authenticator in current_app.extensions.get(AUTHENTICATORS_KEY, ()):
        principal = authenticator()
        if principal is not None:
            g.principal = principal
            return
    raise NotAuthenticated()


def current_principal() -> Any:
    principal = g.get("principal")
    if principal is None:
        raise NotAuthenticated()
    return principal
