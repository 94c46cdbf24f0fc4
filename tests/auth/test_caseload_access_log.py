"""The survivor's access log: who touched their record, never alarms, nothing in a decoy."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core import audit, pages
from core.runtime import Runtime
from tests.factories import auth_header, make_agency, make_device, make_staff, make_survivor
from tests.json_client import JsonClient

URL = "/v1/survivor/access-log"


def test_staff_reads_show_who_role_action_and_via(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, adv_token = make_staff(db_session, runtime)
    supervisor, sup_token = make_staff(db_session, runtime, role="supervisor")
    make_staff(db_session, runtime, role="supervisor")  # someone to notify
    survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    assert (
        client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(adv_token)).status_code
        == 200
    )
    r = client.post(
        f"/v1/supervisor/survivors/{survivor.id}/break-glass",
        json={"reason": "Advocate away; duress alert to review."},
        headers=auth_header(sup_token),
    )
    assert r.status_code == 201
    assert (
        client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(sup_token)).status_code
        == 200
    )

    page = client.get(URL, headers=auth_header(token))
    assert page.status_code == 200
    items = page.json["items"]
    assert [(i["who"], i["role"], i["action"], i["via"]) for i in items] == [
        (supervisor.display_name, "supervisor", "survivor.read", "break_glass"),
        (supervisor.display_name, "supervisor", "break_glass.open", None),
        (advocate.display_name, "advocate", "survivor.read", "caseload"),
    ]
    assert all(i["actor_kind"] == "staff" for i in items)
    assert page.json["next_cursor"] is None


def test_partner_and_system_events_are_shown_own_events_and_others_are_not(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, token = make_survivor(db_session, runtime)
    other, _ = make_survivor(db_session, runtime)
    agency, _ = make_agency(db_session, runtime, name="Northshire Police", kind="police")
    clock = runtime.clock
    audit.record(
        db_session,
        clock,
        audit.Actor("survivor", survivor.id),
        "survivor.login",
        survivor_id=survivor.id,
    )
    audit.record(
        db_session, clock, audit.Actor("partner", agency.id), "alert.read", survivor_id=survivor.id
    )
    audit.record(
        db_session, clock, audit.Actor.system(), "consent.expired", survivor_id=survivor.id
    )
    audit.record(
        db_session, clock, audit.Actor("partner", agency.id), "alert.read", survivor_id=other.id
    )
    db_session.commit()  # audit events are written as their transaction commits
    items = client.get(URL, headers=auth_header(token)).json["items"]
    assert [(i["actor_kind"], i["who"], i["role"], i["action"]) for i in items] == [
        ("system", None, None, "consent.expired"),
        ("partner", "Northshire Police", "police", "alert.read"),
    ]


def test_alarm_events_are_concealed(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    # Someone forcing the real PIN later must not learn that an alarm went out.
    survivor, token = make_survivor(db_session, runtime)
    staff, _ = make_staff(db_session, runtime)
    clock = runtime.clock
    for action in ("checkin.escalated", "checkin.partner_step", "duress.alert_sent"):
        audit.record(db_session, clock, audit.Actor.system(), action, survivor_id=survivor.id)
    audit.record(
        db_session,
        clock,
        audit.Actor("staff", staff.id),
        "escalation.acknowledged",
        survivor_id=survivor.id,
    )
    audit.record(
        db_session,
        clock,
        audit.Actor("staff", staff.id),
        "safety_plan.read",
        survivor_id=survivor.id,
    )
    db_session.commit()  # audit events are written as their transaction commits
    items = client.get(URL, headers=auth_header(token)).json["items"]
    assert [i["action"] for i in items] == ["safety_plan.read"]


def test_decoy_session_gets_an_empty_list_of_the_same_shape(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, adv_token = make_staff(db_session, runtime)
    survivor, real = make_survivor(db_session, runtime, advocate=advocate)
    _, decoy = make_device(db_session, runtime, survivor.id, decoy=True)
    client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(adv_token))
    real_page = client.get(URL, headers=auth_header(real))
    decoy_page = client.get(URL, headers=auth_header(decoy))
    assert len(real_page.json["items"]) == 1
    assert decoy_page.status_code == real_page.status_code == 200
    assert decoy_page.json == {"items": [], "next_cursor": None}
    assert decoy_page.headers["Content-Type"] == real_page.headers["Content-Type"]
    # A brand-new survivor's real page looks exactly like the decoy page.
    _, fresh = make_survivor(db_session, runtime)
    assert client.get(URL, headers=auth_header(fresh)).get_data() == decoy_page.get_data()


def test_pages_with_a_cursor_skipping_concealed_events(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, token = make_survivor(db_session, runtime)
    staff, _ = make_staff(db_session, runtime)
    clock, actor = runtime.clock, audit.Actor("staff", staff.id)
    for n in range(5):
        audit.record(db_session, clock, actor, f"thing.read{n}", survivor_id=survivor.id)
        audit.record(
            db_session, clock, audit.Actor.system(), "checkin.escalated", survivor_id=survivor.id
        )
    seen: list[str] = []
    db_session.commit()  # audit events are written as their transaction commits
    url, pages = f"{URL}?limit=2", 0
    while True:
        page = client.get(url, headers=auth_header(token)).json
        pages += 1
        seen.extend(i["action"] for i in page["items"])
        if page["next_cursor"] is None:
            break
        url = f"{URL}?limit=2&cursor={page['next_cursor']}"
    assert seen == [f"thing.read{n}" for n in (4, 3, 2, 1, 0)]
    assert pages == 3


def test_foreign_or_unknown_cursor_gives_an_empty_page(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, token = make_survivor(db_session, runtime)
    other, _ = make_survivor(db_session, runtime)
    staff, _ = make_staff(db_session, runtime)
    mine = audit.record(
        db_session, runtime.clock, audit.Actor("staff", staff.id), "x.read", survivor_id=survivor.id
    )
    theirs = audit.record(
        db_session, runtime.clock, audit.Actor("staff", staff.id), "x.read", survivor_id=other.id
    )
    db_session.commit()  # audit events are written as their transaction commits

    def cursor(event_id: uuid.UUID) -> str:
        return pages.encode(pages.Position(runtime.clock.now(), event_id))

    assert (
        client.get(f"{URL}?cursor={cursor(mine.id)}", headers=auth_header(token)).json["items"]
        == []
    )
    for event_id in (theirs.id, uuid.uuid4()):
        r = client.get(f"{URL}?cursor={cursor(event_id)}", headers=auth_header(token))
        assert r.status_code == 200
        assert r.json == {"items": [], "next_cursor": None}
    assert len(client.get(URL, headers=auth_header(token)).json["items"]) == 1


def test_access_log_is_the_survivors_own(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, staff = make_staff(db_session, runtime)
    _, partner = make_agency(db_session, runtime)
    for token in (staff, partner):
        assert client.get(URL, headers=auth_header(token)).status_code == 403
    assert client.get(URL).status_code == 401
