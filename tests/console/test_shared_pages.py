"""The Shared tab, read only: the disclosure log and the agencies' events about the abuser."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.console.record_worlds import (
    agency,
    agency_reports,
    alert_shared,
    audited,
    break_glass,
    consent_given,
    decoy_on_caseload,
)
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient

NOTE = "Released on bail; conditions: no contact, not to enter Elm Street"


def _page(survivor_id: uuid.UUID) -> str:
    return f"/console/survivors/{survivor_id}/shared"


def _survivor(db: Session, runtime: Runtime, staff: Staff) -> uuid.UUID:
    survivor, _token = make_survivor(db, runtime, staff.member)
    db.commit()
    return survivor.id


def _shared_world(db: Session, runtime: Runtime, survivor_id: uuid.UUID) -> tuple[uuid.UUID, ...]:
    police = agency(db, runtime)
    consent = consent_given(db, runtime, survivor_id, to=police)
    line = alert_shared(db, runtime, consent)
    event = agency_reports(db, runtime, survivor_id, police, NOTE)
    db.commit()
    return line, event


def test_the_tab_shows_what_was_shared_and_the_agencies_events(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    line, event = _shared_world(db_session, runtime, sid)
    browser.sign_in(advocate, clock.now())
    answer = browser.get(_page(sid))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'data-disclosure="{line}"' in html
    assert f'data-event="{event}"' in html
    assert "Sent to them: alert, welfare check" in html
    assert "the survivor&#39;s consent (Safety)" in html
    assert "Custody: released" in html
    assert NOTE in html
    assert "Northshire Police" in html
    assert '<th scope="col">' in html
    # Read only: the tab itself holds no form (the layout has signing out and the case label).
    assert "<form" not in html.split('<section class="tab-body"')[1]
    assert audited(db_session, sid, "disclosure.list") == 1
    assert audited(db_session, sid, "agency_event.list") == 1


def test_an_empty_record_says_so(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    html = browser.get(_page(sid)).get_data(as_text=True)
    assert "Nothing has been shared about this survivor." in html
    assert "No agency has reported an event." in html


def test_another_advocates_survivor_is_a_404(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    other = make_member(db_session, runtime)
    sid = _survivor(db_session, runtime, other)
    _shared_world(db_session, runtime, sid)
    browser.sign_in(advocate, clock.now())
    answer = browser.get(_page(sid))
    assert answer.status_code == 404
    assert NOTE not in answer.get_data(as_text=True)
    assert audited(db_session, sid, "disclosure.list") == 0


def test_a_decoy_account_is_nobodys_case(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    decoy_id = decoy_on_caseload(db_session, sid, advocate.member.id, clock)
    browser.sign_in(advocate, clock.now())
    assert browser.get(_page(decoy_id)).status_code == 404


def test_break_glass_reads_it(
    browser: Browser, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    owner = make_member(db_session, runtime)
    supervisor = make_member(db_session, runtime, role="supervisor")
    sid = _survivor(db_session, runtime, owner)
    _line, event = _shared_world(db_session, runtime, sid)
    break_glass(db_session, runtime, supervisor.member.id, sid)
    db_session.commit()
    browser.sign_in(supervisor, clock.now())
    assert f'data-event="{event}"' in browser.get(_page(sid)).get_data(as_text=True)


def test_the_api_names_the_agency_of_each_event(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    member, token = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, member)
    _shared_world(db_session, runtime, survivor.id)
    r = client.get(f"/v1/staff/survivors/{survivor.id}/agency-events", headers=auth_header(token))
    assert r.status_code == 200
    [item] = r.json["items"]
    assert (item["agency_name"], item["agency_kind"], item["note"]) == (
        "Northshire Police",
        "police",
        NOTE,
    )
