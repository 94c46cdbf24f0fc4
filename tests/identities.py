"""One world of identities for the walkers over ``app.url_map`` (permission matrix, access rules).

Survivors S1 (advocate A1) and S2 (advocate A2), a supervisor SUP with no grant and no
caseload, an admin ADM, two staff members who never enrolled TOTP (PENDING_ADV, on S1's
caseload; PENDING_ADM, an admin), partner agencies P1 and P2 with keys holding every scope,
and no credential at all (ANON). Beside them: S1_DECOY, a duress (decoy) session of S1, and
P1_NOSCOPE, a live key of P1 that holds no scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from auth.authn import authenticate
from auth.partners.keys import PARTNER_SCOPES
from auth.partners.models import PartnerAgency
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.errors import LanternError
from core.runtime import Runtime
from tests.factories import (
    make_agency,
    make_device,
    make_partner_key,
    make_staff,
    make_survivor,
)
from web.access import rule_for


@dataclass
class World:
    session: Session
    runtime: Runtime
    s1: Survivor
    s2: Survivor
    a1: StaffMember
    a2: StaffMember
    sup: StaffMember
    adm: StaffMember
    p1: PartnerAgency
    p2: PartnerAgency
    tokens: dict[str, str | None] = field(default_factory=dict)


def build_world(session: Session, runtime: Runtime) -> World:
    a1, a1_token = make_staff(session, runtime, role="advocate")
    a2, a2_token = make_staff(session, runtime, role="advocate")
    sup, sup_token = make_staff(session, runtime, role="supervisor")
    adm, adm_token = make_staff(session, runtime, role="admin")
    pending_adv, pending_adv_token = make_staff(session, runtime, enrolled=False)
    _, pending_adm_token = make_staff(session, runtime, role="admin", enrolled=False)
    s1, s1_token = make_survivor(session, runtime, advocate=a1)
    s2, s2_token = make_survivor(session, runtime, advocate=a2)
    s1_decoy_token = make_device(session, runtime, s1.id, decoy=True)[1]
    # A staff member whose TOTP is not enrolled must be refused even on their own caseload.
    session.add(
        CaseloadEntry(survivor_id=s1.id, staff_id=pending_adv.id, assigned_at=runtime.clock.now())
    )
    p1, p1_key = make_agency(session, runtime, name="P1", scopes=sorted(PARTNER_SCOPES))
    p2, p2_key = make_agency(session, runtime, name="P2", scopes=sorted(PARTNER_SCOPES))
    p1_noscope_key = make_partner_key(session, runtime, p1, ())
    session.flush()
    tokens: dict[str, str | None] = {
        "S1": s1_token,
        "S2": s2_token,
        "A1": a1_token,
        "A2": a2_token,
        "SUP": sup_token,
        "ADM": adm_token,
        "PENDING_ADV": pending_adv_token,
        "PENDING_ADM": pending_adm_token,
        "P1": p1_key,
        "P2": p2_key,
        "ANON": None,
        "S1_DECOY": s1_decoy_token,
        "P1_NOSCOPE": p1_noscope_key,
    }
    return World(session, runtime, s1, s2, a1, a2, sup, adm, p1, p2, tokens)


def admits(app: Flask, world: World, endpoint: str, method: str, who: str) -> bool:
    """Whether the access rule ``endpoint`` declares for ``method`` lets ``who`` in."""
    token = world.tokens[who]
    rule = rule_for(app, endpoint, method)
    if token is None or rule is None:
        return False
    rt = world.runtime
    principal = authenticate(world.session, rt.clock, rt.settings, token)
    try:
        rule.admit(principal)
    except LanternError:
        return False
    return True
