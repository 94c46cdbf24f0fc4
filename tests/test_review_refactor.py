"""Security review of the issue 13 refactor: what an attacker would try where a defence moved."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from auth.access.models import BreakGlassGrant, CaseloadEntry
from coordination.models import LawfulShare
from core.ids import new_id
from core.runtime import Runtime
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from tests.json_client import JsonClient


def test_break_glass_cannot_decide_a_share_without_consent(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """Break-glass is read-only: a supervisor reaching a survivor only through a grant must not
    approve (or reject) sharing her data with an agency without her consent."""
    advocate, advocate_token = make_staff(db_session, runtime, role="advocate")
    on_caseload, on_caseload_token = make_staff(db_session, runtime, role="supervisor")
    glass, glass_token = make_staff(db_session, runtime, role="supervisor")
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    police, _ = make_agency(db_session, runtime)
    now = runtime.clock.now()
    db_session.add(CaseloadEntry(survivor_id=survivor.id, staff_id=on_caseload.id, assigned_at=now))
    db_session.add(
        BreakGlassGrant(
            id=new_id(),
            supervisor_id=glass.id,
            survivor_id=survivor.id,
            reason_enc=b"\x00" * 48,  # never opened by the access check
            created_at=now,
            expires_at=now + dt.timedelta(hours=1),
        )
    )
    db_session.commit()
    base = f"/v1/staff/survivors/{survivor.id}/lawful-shares"
    body = {
        "agency_id": str(police.id),
        "kinds": ["welfare_check"],
        "basis": "vital_interests",
        "reasoning": "Threat to life reported at MARAC; survivor unreachable",
        "duration_hours": 48,
        "tell_survivor": True,
    }
    requested = client.post(base, json=body, headers=auth_header(advocate_token))
    assert requested.status_code == 201, requested.json
    share_id = requested.json["id"]
    # The grant does let the supervisor read the shares (break-glass reads).
    assert client.get(base, headers=auth_header(glass_token)).status_code == 200
    for decision in ("approve", "reject"):
        r = client.post(f"{base}/{share_id}/{decision}", headers=auth_header(glass_token))
        assert r.status_code == 404, (decision, r.status_code)
    db_session.expire_all()
    share = db_session.get(LawfulShare, uuid.UUID(share_id))
    assert share is not None
    assert share.state == "pending"
    assert share.decided_by is None
    # A supervisor on her caseload still decides.
    ok = client.post(f"{base}/{share_id}/approve", headers=auth_header(on_caseload_token))
    assert ok.status_code == 200
    assert ok.json["state"] == "approved"
