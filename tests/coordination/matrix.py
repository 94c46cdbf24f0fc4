"""Permission-matrix factories for coordination path parameters (objects of S1, A1 and P1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from api.wiring import wire
from auth.access.permissions import SurvivorAccess
from auth.principals import StaffPrincipal, SurvivorPrincipal
from coordination import consents, lawful_basis
from coordination.alerts import create_alert
from coordination.models import Consent
from core.audit import Actor
from core.ids import new_id
from tests.identities import World


def _consent(w: World) -> Consent:
    deps = wire(w.runtime).coordination
    clock = w.runtime.clock
    access = SurvivorAccess(w.s1.id, "self", SurvivorPrincipal(w.s1.id, new_id(), False))
    expires = clock.now() + dt.timedelta(days=30)
    t = consents.terms(w.session, clock, w.s1.id, w.p1.id, ["welfare_check"], "Matrix", expires)
    return consents.give(
        w.session,
        access,
        clock,
        deps,
        agency_id=w.p1.id,
        kinds=["welfare_check"],
        purpose="Matrix",
        expires_at=expires,
        text_hash=t.text_hash,
    )


def consent_id(w: World) -> str:
    return str(_consent(w).id)


def share_id(w: World) -> str:
    principal = StaffPrincipal(w.a1.id, "advocate", new_id(), w.runtime.clock.now())
    share = lawful_basis.request_share(
        w.session,
        SurvivorAccess(w.s1.id, "caseload", principal),
        w.runtime.clock,
        wire(w.runtime).coordination,
        agency_id=w.p1.id,
        kinds=["welfare_check"],
        basis="safeguarding",
        reasoning="Matrix",
        duration_hours=2,
        tell_survivor=True,
        not_telling_reason=None,
    )
    return str(share.id)


def delivery_id(w: World) -> str:
    """A delivery of an S1 alert to P1 (P1 sees its id as the alert id)."""
    _consent(w)
    _, sent = create_alert(
        w.session,
        Actor.system(),
        w.runtime.clock,
        wire(w.runtime).coordination,
        survivor_id=w.s1.id,
        kind="welfare_check",
        data={},
    )
    return str(sent[0].id)


def _expires(w: World) -> str:
    return (w.runtime.clock.now() + dt.timedelta(days=30)).isoformat()


_S = "/v1/staff/survivors/<uuid:survivor_id>"

# Valid bodies, so intruders get past validation to the authorization answer.
BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("POST", "/v1/survivor/consents/<uuid:consent_id>/confirm"): lambda w: {
        "receipt_hash": "0" * 64
    },
    ("POST", f"{_S}/consents"): lambda w: {
        "agency_id": str(w.p1.id),
        "kinds": ["welfare_check"],
        "purpose": "Matrix",
        "expires_at": _expires(w),
    },
    ("POST", f"{_S}/alerts"): lambda w: {"kind": "welfare_check"},
    ("POST", f"{_S}/lawful-shares"): lambda w: {
        "agency_id": str(w.p1.id),
        "kinds": ["welfare_check"],
        "basis": "safeguarding",
        "reasoning": "Matrix",
        "duration_hours": 2,
        "tell_survivor": True,
    },
    ("PUT", "/v1/admin/agencies/<uuid:agency_id>/webhook"): lambda w: {
        "url": "https://hooks.partner.example/in"
    },
}
