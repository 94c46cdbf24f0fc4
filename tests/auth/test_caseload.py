"""Caseloads: advocates list their own; supervisors reassign but do not thereby read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.notices import StaffNotice
from core.runtime import Runtime
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient


def _advocates_url(survivor_id: object) -> str:
    return f"/v1/supervisor/survivors/{survivor_id}/advocates"


def test_advocate_lists_own_caseload_newest_first_without_content(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, token = make_staff(db_session, runtime)
    other, _ = make_staff(db_session, runtime)
    first, _ = make_survivor(db_session, runtime, advocate=advocate)
    clock.advance(minutes=1)
    second, _ = make_survivor(db_session, runtime, advocate=advocate)
    make_survivor(db_session, runtime, advocate=other)
    r = client.get("/v1/staff/caseload", headers=auth_header(token))
    assert r.status_code == 200
    assert r.json == {
        "items": [
            {
                "survivor_id": str(second.id),
                "assigned_at": clock.now().isoformat(),
                "case_label": None,
            },
            {
                "survivor_id": str(first.id),
                "assigned_at": (clock.now() - dt.timedelta(minutes=1)).isoformat(),
                "case_label": None,
            },
        ]
    }


def test_erased_survivors_leave_the_caseload(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    survivor.erased_at = clock.now()
    db_session.flush()
    assert client.get("/v1/staff/caseload", headers=auth_header(token)).json == {"items": []}


def test_caseload_is_for_advocates_and_supervisors(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, admin = make_staff(db_session, runtime, role="admin")
    _, pending = make_staff(db_session, runtime, enrolled=False)
    _, survivor = make_survivor(db_session, runtime)
    assert client.get("/v1/staff/caseload", headers=auth_header(admin)).status_code == 403
    r = client.get("/v1/staff/caseload", headers=auth_header(pending))
    assert r.status_code == 403
    assert r.json["type"].endswith("totp-enrollment-required")
    assert client.get("/v1/staff/caseload", headers=auth_header(survivor)).status_code == 403


def test_supervisor_assigns_and_removes_advocates_audited_and_notified(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    old, _ = make_staff(db_session, runtime)
    new, new_token = make_staff(db_session, runtime)
    supervisor, sup_token = make_staff(db_session, runtime, role="supervisor")
    survivor, _ = make_survivor(db_session, runtime, advocate=old)
    sup = auth_header(sup_token)

    r = client.post(_advocates_url(survivor.id), json={"staff_id": str(new.id)}, headers=sup)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.json["staff_id"] == str(new.id)
    assert r.json["assigned_by"] == str(supervisor.id)
    again = client.post(_advocates_url(survivor.id), json={"staff_id": str(new.id)}, headers=sup)
    assert again.status_code == 409

    listed = client.get(_advocates_url(survivor.id), headers=sup).json["items"]
    assert {i["staff_id"] for i in listed} == {str(old.id), str(new.id)}
    # The new advocate now sees the survivor, and was told.
    mine = client.get("/v1/staff/caseload", headers=auth_header(new_token)).json["items"]
    assert [i["survivor_id"] for i in mine] == [str(survivor.id)]

    r = client.delete(f"{_advocates_url(survivor.id)}/{old.id}", headers=sup)
    assert r.status_code == 204
    assert client.delete(f"{_advocates_url(survivor.id)}/{old.id}", headers=sup).status_code == 404

    db_session.expire_all()
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("caseload.%")).order_by(AuditEvent.seq)
    ).all()
    assert [(e.action, e.actor_id, e.subject_id, e.survivor_id) for e in events] == [
        ("caseload.assign", supervisor.id, new.id, survivor.id),
        ("caseload.unassign", supervisor.id, old.id, survivor.id),
    ]
    notice = db_session.scalars(select(StaffNotice).where(StaffNotice.recipient_id == new.id)).one()
    assert (notice.kind, notice.survivor_id) == ("caseload_assigned", survivor.id)


def test_last_active_advocate_cannot_be_removed(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    only, _ = make_staff(db_session, runtime)
    disabled, _ = make_staff(db_session, runtime)
    _, sup_token = make_staff(db_session, runtime, role="supervisor")
    survivor, _ = make_survivor(db_session, runtime, advocate=only)
    db_session.add(
        CaseloadEntry(survivor_id=survivor.id, staff_id=disabled.id, assigned_at=clock.now())
    )
    disabled.disabled_at = clock.now()
    db_session.flush()
    r = client.delete(f"{_advocates_url(survivor.id)}/{only.id}", headers=auth_header(sup_token))
    # A disabled colleague on the caseload would receive no alarm, so it does not count.
    assert r.status_code == 409
    db_session.expire_all()
    assert (
        db_session.scalars(
            select(CaseloadEntry).where(CaseloadEntry.staff_id == only.id)
        ).one_or_none()
        is not None
    )


def test_only_active_enrolled_advocates_or_supervisors_can_be_assigned(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    _, sup_token = make_staff(db_session, runtime, role="supervisor")
    other_supervisor, _ = make_staff(db_session, runtime, role="supervisor")
    admin, _ = make_staff(db_session, runtime, role="admin")
    pending, _ = make_staff(db_session, runtime, enrolled=False)
    gone, _ = make_staff(db_session, runtime)
    gone.disabled_at = clock.now()
    db_session.flush()
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    sup = auth_header(sup_token)
    for staff_id in (admin.id, pending.id, gone.id, "00000000-0000-4000-8000-000000000000"):
        r = client.post(_advocates_url(survivor.id), json={"staff_id": str(staff_id)}, headers=sup)
        assert r.status_code == 422, staff_id
        assert "staff_id" in r.json["errors"]
    r = client.post(
        _advocates_url(survivor.id), json={"staff_id": str(other_supervisor.id)}, headers=sup
    )
    assert r.status_code == 201


def test_supervisor_cannot_assign_themselves_and_reassigning_grants_no_read(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    other, _ = make_staff(db_session, runtime)
    supervisor, sup_token = make_staff(db_session, runtime, role="supervisor")
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    sup = auth_header(sup_token)
    r = client.post(_advocates_url(survivor.id), json={"staff_id": str(supervisor.id)}, headers=sup)
    assert r.status_code == 403
    assert (
        client.post(
            _advocates_url(survivor.id), json={"staff_id": str(other.id)}, headers=sup
        ).status_code
        == 201
    )
    # Managing the caseload is not reading the record.
    assert client.get(f"/v1/staff/survivors/{survivor.id}", headers=sup).status_code == 404


def test_advocates_cannot_reassign(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    colleague, _ = make_staff(db_session, runtime)
    _, admin_token = make_staff(db_session, runtime, role="admin")
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    for headers in (auth_header(token), auth_header(admin_token)):
        body = {"staff_id": str(colleague.id)}
        assert (
            client.post(_advocates_url(survivor.id), json=body, headers=headers).status_code == 403
        )
        assert client.get(_advocates_url(survivor.id), headers=headers).status_code == 403
        r = client.delete(f"{_advocates_url(survivor.id)}/{advocate.id}", headers=headers)
        assert r.status_code == 403


def test_unknown_or_erased_survivor_is_404_for_supervisors(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    _, sup_token = make_staff(db_session, runtime, role="supervisor")
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    survivor.erased_at = clock.now()
    db_session.flush()
    sup = auth_header(sup_token)
    missing = "00000000-0000-4000-8000-000000000000"
    for sid in (survivor.id, missing):
        assert client.get(_advocates_url(sid), headers=sup).status_code == 404
        body = {"staff_id": str(advocate.id)}
        assert client.post(_advocates_url(sid), json=body, headers=sup).status_code == 404


def test_survivor_summary_through_caseload_is_audited(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    r = client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(token))
    assert r.status_code == 200
    assert r.json == {
        "id": str(survivor.id),
        "created_at": survivor.created_at.isoformat(),
        "advocates": [str(advocate.id)],
        "via": "caseload",
        "case_label": None,
    }
    db_session.expire_all()
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "survivor.read")).one()
    assert (event.actor_kind, event.actor_id, event.survivor_id) == (
        "staff",
        advocate.id,
        survivor.id,
    )
    assert event.details == {"via": "caseload"}


def test_admins_never_read_survivor_records(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin, admin_token = make_staff(db_session, runtime, role="admin")
    # Even an admin placed on a caseload by a bad row gets nothing: the role decides.
    survivor, _ = make_survivor(db_session, runtime, advocate=admin)
    other_advocate, _ = make_staff(db_session, runtime)
    # The role is refused before anything is looked up: the same 403 for any id.
    r = client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(admin_token))
    assert r.status_code == 403
    other = client.get(f"/v1/staff/survivors/{other_advocate.id}", headers=auth_header(admin_token))
    assert other.status_code == 403
    assert other.json["detail"] == r.json["detail"]
    # Admins cannot open break-glass either.
    r = client.post(
        f"/v1/supervisor/survivors/{survivor.id}/break-glass",
        json={"reason": "I am an admin and I want to look"},
        headers=auth_header(admin_token),
    )
    assert r.status_code == 403
    db_session.expire_all()
    assert (
        db_session.scalars(select(AuditEvent).where(AuditEvent.action == "survivor.read")).all()
        == []
    )


def test_survivor_cannot_use_the_staff_record_route_even_for_self(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, token = make_survivor(db_session, runtime)
    r = client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(token))
    assert r.status_code == 403
