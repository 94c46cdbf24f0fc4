"""One rule for staff reaching a survivor (``auth.access.permissions.require_staff_access``): safety
plans, coordination, messaging and the console's survivor summary refuse and allow the same
people, for the same survivors, in the same way."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from auth.access.models import BreakGlassGrant, CaseloadEntry
from auth.staff.models import StaffMember
from auth.survivors import decoys
from core.ids import new_id
from core.runtime import Runtime
from safety_plans.sections import template
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient

ALLOWED, FORBIDDEN, HIDDEN = "allowed", "403", "404"
S = "/v1/staff/survivors/{}"

# (domain, method, path, body): a read and a write in each domain that has both.
READS = [
    ("safety_plans", "GET", S + "/safety-plan", None),
    ("coordination", "GET", S + "/consents", None),
    ("messaging", "GET", S + "/messages", None),
    ("messaging", "GET", S + "/check-ins", None),
    ("auth", "GET", S, None),
]
WRITES = [
    ("safety_plans", "PUT", S + "/safety-plan", {"sections": template()}),
    ("coordination", "POST", S + "/alerts", {"kind": "safety_status", "status": "safe"}),
    ("messaging", "POST", S + "/messages", {"body": "Are you free to talk at 3?"}),
]


@dataclass
class Cast:
    tokens: dict[str, str]
    survivors: dict[str, uuid.UUID]


def _on_caseload(session: Session, runtime: Runtime, staff: StaffMember, survivor_id: Any) -> None:
    now = runtime.clock.now()
    session.add(CaseloadEntry(survivor_id=survivor_id, staff_id=staff.id, assigned_at=now))


def _grant(session: Session, runtime: Runtime, supervisor: StaffMember, survivor_id: Any) -> None:
    now = runtime.clock.now()
    session.add(
        BreakGlassGrant(
            id=new_id(),
            supervisor_id=supervisor.id,
            survivor_id=survivor_id,
            reason_enc=b"\x00" * 48,  # never opened by the access check
            created_at=now,
            expires_at=now + dt.timedelta(hours=1),
        )
    )


def _cast(session: Session, runtime: Runtime) -> Cast:
    adv, adv_token = make_staff(session, runtime, role="advocate")
    _, other_adv_token = make_staff(session, runtime, role="advocate")
    sup_caseload, sup_caseload_token = make_staff(session, runtime, role="supervisor")
    sup_glass, sup_glass_token = make_staff(session, runtime, role="supervisor")
    admin, admin_token = make_staff(session, runtime, role="admin")
    pending, pending_token = make_staff(session, runtime, enrolled=False)
    real, _ = make_survivor(session, runtime, advocate=adv)
    erased, _ = make_survivor(session, runtime, advocate=adv)
    erased.erased_at = runtime.clock.now()
    decoy = decoys.decoy_account(session, real.id)
    assert decoy is not None
    # Everything that would let staff in, given to the decoy account too: still nobody's case.
    _on_caseload(session, runtime, adv, decoy.id)  # make_survivor put them on real's
    for staff in (sup_caseload, pending, admin):
        _on_caseload(session, runtime, staff, real.id)
        _on_caseload(session, runtime, staff, decoy.id)
    for survivor_id in (real.id, decoy.id, erased.id):
        _grant(session, runtime, sup_glass, survivor_id)
    _on_caseload(session, runtime, sup_caseload, erased.id)
    session.commit()
    return Cast(
        tokens={
            "advocate on the caseload": adv_token,
            "another advocate": other_adv_token,
            "supervisor on the caseload": sup_caseload_token,
            "supervisor with break-glass": sup_glass_token,
            "admin on the caseload": admin_token,
            "advocate without TOTP on the caseload": pending_token,
        },
        survivors={
            "real": real.id,
            "decoy": decoy.id,
            "erased": erased.id,
            "unknown": uuid.uuid4(),
        },
    )


def _outcome(status: int) -> str:
    assert status not in (401, 500), status
    return {403: FORBIDDEN, 404: HIDDEN}.get(status, ALLOWED)


def _expected(who: str, survivor: str, write: bool) -> str:
    if who.startswith(("admin", "advocate without")):
        return FORBIDDEN  # not a caseworker: refused before any survivor is looked at
    if survivor != "real" or who == "another advocate":
        return HIDDEN
    if who == "supervisor with break-glass" and write:
        return HIDDEN  # break-glass reads, never writes
    return ALLOWED


def test_every_domain_lets_the_same_staff_reach_the_same_survivors(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    cast = _cast(db_session, runtime)
    wrong = []
    for who, token in cast.tokens.items():
        for survivor, survivor_id in cast.survivors.items():
            for write, operations in ((False, READS), (True, WRITES)):
                expected = _expected(who, survivor, write)
                for domain, method, path, body in operations:
                    r = client.open(
                        path.format(survivor_id),
                        method=method,
                        json=body,
                        headers=auth_header(token),
                    )
                    got = _outcome(r.status_code)
                    if got != expected:
                        wrong.append(f"{who} / {survivor} / {domain} {method}: {got} != {expected}")
    assert wrong == []
