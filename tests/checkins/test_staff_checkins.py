"""``GET /v1/staff/survivors/{id}/check-ins``: an advocate reads the survivor's schedules and
latest occurrences (the same service the console's Check-ins tab shows)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.survivors import decoys
from core.audit import AuditEvent
from core.runtime import Runtime
from messaging.checkins import service, states
from messaging.checkins.models import CheckinOccurrence
from tests.console.records import break_glass, schedule
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient


def _url(survivor_id: object) -> str:
    return f"/v1/staff/survivors/{survivor_id}/check-ins"


def test_an_advocate_reads_schedules_and_the_latest_occurrences(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, survivor_token = make_survivor(db_session, runtime, advocate)
    later = schedule(db_session, runtime, survivor.id, hours=5)
    sooner = schedule(db_session, runtime, survivor.id, hours=1)
    decoy = decoys.ensure_decoy(db_session, runtime.clock, survivor)
    schedule(db_session, runtime, decoy.id)  # a duress session's: never the real record's
    db_session.commit()
    r = client.get(_url(survivor.id), headers=auth_header(token))
    assert r.status_code == 200, r.json
    assert r.json["paused"] is False
    assert {s["id"] for s in r.json["schedules"]} == {str(later.id), str(sooner.id)}
    assert {s["template"] for s in r.json["schedules"]} == {"appointment"}
    assert [o["schedule_id"] for o in r.json["occurrences"]] == [str(later.id), str(sooner.id)]
    assert {o["state"] for o in r.json["occurrences"]} == {states.SCHEDULED}
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == service.STAFF_READ)
    ).all()
    assert [(e.survivor_id, e.details) for e in events] == [(survivor.id, {"via": "caseload"})]
    # The survivor's own token is not a staff credential.
    assert client.get(_url(survivor.id), headers=auth_header(survivor_token)).status_code == 403


def test_only_the_latest_occurrences_are_listed(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor = make_survivor(db_session, runtime, advocate)[0]
    for hours in range(1, service.RECENT_OCCURRENCES + 6):
        schedule(db_session, runtime, survivor.id, hours=hours)
    db_session.commit()
    listed = client.get(_url(survivor.id), headers=auth_header(token)).json["occurrences"]
    assert len(listed) == service.RECENT_OCCURRENCES
    due = [dt.datetime.fromisoformat(o["due_at"]) for o in listed]
    assert due == sorted(due, reverse=True)
    newest = db_session.scalars(
        select(CheckinOccurrence.due_at).order_by(CheckinOccurrence.due_at.desc())
    ).first()
    assert newest is not None
    assert due[0] == newest.replace(tzinfo=dt.UTC)


def test_other_staff_reach_it_as_they_reach_any_record(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    survivor = make_survivor(db_session, runtime, advocate)[0]
    _stranger, stranger_token = make_staff(db_session, runtime)
    glass, glass_token = make_staff(db_session, runtime, role="supervisor")
    _plain, plain_token = make_staff(db_session, runtime, role="supervisor")
    _admin, admin_token = make_staff(db_session, runtime, role="admin")
    break_glass(db_session, runtime, glass, survivor.id)
    db_session.commit()
    answers = {
        who: client.get(_url(survivor.id), headers=auth_header(t)).status_code
        for who, t in {
            "another advocate": stranger_token,
            "break-glass supervisor": glass_token,
            "supervisor without a grant": plain_token,
            "admin": admin_token,
        }.items()
    }
    assert answers == {
        "another advocate": 404,
        "break-glass supervisor": 200,
        "supervisor without a grant": 404,
        "admin": 403,
    }
