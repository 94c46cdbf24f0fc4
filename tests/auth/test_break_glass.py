"""Break-glass: step-up, sealed reason, one hour read-only, audited, notified to another."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.break_glass import reason_binding
from auth.access.models import BreakGlassGrant
from auth.access.permissions import require_survivor_access
from auth.principals import StaffPrincipal
from auth.staff.models import StaffMember
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.errors import NotFound
from core.notices import StaffNotice
from core.runtime import Runtime
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient

REASON = "Duress alert overnight; the assigned advocate is on leave."


def _url(survivor_id: object) -> str:
    return f"/v1/supervisor/survivors/{survivor_id}/break-glass"


def _record(client: JsonClient, survivor_id: object, token: str) -> int:
    return client.get(f"/v1/staff/survivors/{survivor_id}", headers=auth_header(token)).status_code


@pytest.fixture
def world(db_session: Session, runtime: Runtime) -> dict[str, Any]:
    advocate, _ = make_staff(db_session, runtime)
    supervisor, sup_token = make_staff(db_session, runtime, role="supervisor")
    colleague, _ = make_staff(db_session, runtime, role="supervisor")
    admin, _ = make_staff(db_session, runtime, role="admin")
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    other, _ = make_survivor(db_session, runtime, advocate=advocate)
    return {
        "supervisor": supervisor,
        "token": sup_token,
        "colleague": colleague,
        "admin": admin,
        "survivor": survivor,
        "other": other,
    }


def test_break_glass_grants_one_hour_read_of_that_survivor_only(
    client: JsonClient, world: dict[str, Any], clock: FrozenClock
) -> None:
    survivor, token = world["survivor"], world["token"]
    assert _record(client, survivor.id, token) == 404
    r = client.post(_url(survivor.id), json={"reason": REASON}, headers=auth_header(token))
    assert r.status_code == 201, r.get_data(as_text=True)
    assert dt.datetime.fromisoformat(r.json["expires_at"]) == clock.now() + dt.timedelta(hours=1)
    assert r.json["survivor_id"] == str(survivor.id)
    assert (r.json["notified_role"], r.json["notified_count"]) == ("supervisor", 1)

    summary = client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(token))
    assert summary.status_code == 200
    assert summary.json["via"] == "break_glass"
    assert _record(client, world["other"].id, token) == 404

    # Reads every 20 minutes keep the staff session alive (30 min idle), so only the grant
    # can end the access.
    for minutes in (20, 20, 19):
        clock.advance(minutes=minutes)
        assert _record(client, survivor.id, token) == 200
    clock.advance(minutes=1)
    assert _record(client, survivor.id, token) == 404
    assert client.get("/v1/staff/caseload", headers=auth_header(token)).status_code == 200


def test_reason_is_sealed_with_the_survivor_key_and_grant_audited(
    client: JsonClient, world: dict[str, Any], db_session: Session, runtime: Runtime
) -> None:
    survivor, supervisor = world["survivor"], world["supervisor"]
    r = client.post(_url(survivor.id), json={"reason": REASON}, headers=auth_header(world["token"]))
    grant_id = uuid.UUID(r.json["grant_id"])
    db_session.expire_all()
    grant = db_session.get(BreakGlassGrant, grant_id)
    assert grant is not None
    assert grant.supervisor_id == supervisor.id
    assert REASON.encode() not in grant.reason_enc
    assert runtime.vault.open_text(db_session, reason_binding(grant), grant.reason_enc) == REASON

    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "break_glass.open")
    ).one()
    assert (event.actor_id, event.subject_id, event.survivor_id) == (
        supervisor.id,
        grant_id,
        survivor.id,
    )
    assert REASON not in str(event.details)


def test_other_supervisors_get_an_urgent_notice_without_the_reason(
    client: JsonClient,
    world: dict[str, Any],
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
) -> None:
    third, _ = make_staff(db_session, runtime, role="supervisor")
    retired, _ = make_staff(db_session, runtime, role="supervisor")
    retired.disabled_at = clock.now()
    db_session.flush()
    survivor = world["survivor"]
    r = client.post(_url(survivor.id), json={"reason": REASON}, headers=auth_header(world["token"]))
    assert r.json["notified_count"] == 2
    db_session.expire_all()
    notices = db_session.scalars(select(StaffNotice).where(StaffNotice.kind == "break_glass")).all()
    assert {n.recipient_id for n in notices} == {world["colleague"].id, third.id}
    for notice in notices:
        assert notice.urgency == "urgent"
        assert notice.survivor_id == survivor.id
        assert notice.details["grant_id"] == r.json["grant_id"]
        assert notice.details["supervisor_id"] == str(world["supervisor"].id)
        assert REASON not in str(notice.details)


def test_without_another_supervisor_the_admins_are_told(
    client: JsonClient, world: dict[str, Any], db_session: Session
) -> None:
    db_session.get_one(StaffMember, world["colleague"].id).role = "advocate"
    db_session.flush()
    r = client.post(
        _url(world["survivor"].id), json={"reason": REASON}, headers=auth_header(world["token"])
    )
    assert r.status_code == 201
    assert (r.json["notified_role"], r.json["notified_count"]) == ("admin", 1)
    db_session.expire_all()
    notice = db_session.scalars(select(StaffNotice).where(StaffNotice.kind == "break_glass")).one()
    assert notice.recipient_id == world["admin"].id


def test_with_nobody_to_tell_the_glass_stays_shut(
    client: JsonClient, world: dict[str, Any], db_session: Session, clock: FrozenClock
) -> None:
    world["colleague"].disabled_at = clock.now()
    world["admin"].disabled_at = clock.now()
    db_session.flush()
    survivor, token = world["survivor"], world["token"]
    r = client.post(_url(survivor.id), json={"reason": REASON}, headers=auth_header(token))
    assert r.status_code == 409
    assert _record(client, survivor.id, token) == 404
    db_session.expire_all()
    assert db_session.scalars(select(BreakGlassGrant)).all() == []


def test_break_glass_needs_a_fresh_second_factor(
    client: JsonClient, world: dict[str, Any], db_session: Session, clock: FrozenClock
) -> None:
    survivor, token = world["survivor"], world["token"]
    clock.advance(minutes=10)
    client.get("/v1/staff/caseload", headers=auth_header(token))  # keeps the session alive
    clock.advance(minutes=6)
    r = client.post(_url(survivor.id), json={"reason": REASON}, headers=auth_header(token))
    assert r.status_code == 401
    assert r.json["type"].endswith("step-up-required")
    db_session.expire_all()
    assert db_session.scalars(select(BreakGlassGrant)).all() == []


@pytest.mark.parametrize(
    "reason", ["too short", " " * 20 + "short" + " " * 20, "x" * 2001, "", None, 42]
)
def test_reason_length_is_enforced(
    client: JsonClient, world: dict[str, Any], reason: object
) -> None:
    r = client.post(
        _url(world["survivor"].id), json={"reason": reason}, headers=auth_header(world["token"])
    )
    assert r.status_code == 422


def test_only_supervisors_break_glass(
    client: JsonClient, world: dict[str, Any], db_session: Session, runtime: Runtime
) -> None:
    _, advocate = make_staff(db_session, runtime)
    _, admin = make_staff(db_session, runtime, role="admin")
    _, pending = make_staff(db_session, runtime, role="supervisor", enrolled=False)
    _, survivor_token = make_survivor(db_session, runtime)
    for token in (advocate, admin, pending, survivor_token):
        r = client.post(
            _url(world["survivor"].id), json={"reason": REASON}, headers=auth_header(token)
        )
        assert r.status_code == 403


def test_unknown_survivor_is_404(client: JsonClient, world: dict[str, Any]) -> None:
    r = client.post(
        _url(uuid.uuid4()), json={"reason": REASON}, headers=auth_header(world["token"])
    )
    assert r.status_code == 404


def test_break_glass_is_read_only(
    client: JsonClient, world: dict[str, Any], db_session: Session, runtime: Runtime
) -> None:
    survivor, supervisor = world["survivor"], world["supervisor"]
    client.post(_url(survivor.id), json={"reason": REASON}, headers=auth_header(world["token"]))
    principal = StaffPrincipal(
        staff_id=supervisor.id, role="supervisor", session_id=uuid.uuid4(), second_factor_at=None
    )
    access = require_survivor_access(
        db_session, runtime.clock, principal, survivor.id, action="safety_plan.read"
    )
    assert access.via == "break_glass"
    with pytest.raises(NotFound):
        require_survivor_access(
            db_session, runtime.clock, principal, survivor.id, action="plan.write", write=True
        )
