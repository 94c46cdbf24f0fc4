"""The record's Check-ins tab (read only): the survivor's schedules and latest occurrences with
their states, through the same service as ``GET /v1/staff/survivors/{id}/check-ins``."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.survivors import decoys
from core.audit import Actor, AuditEvent
from core.clock import FrozenClock
from core.crypto import Binding
from core.runtime import Runtime
from messaging.checkins import arrangements, states
from messaging.checkins.models import CheckinOccurrence, CheckinSchedule, CheckinSettings
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.console.records import break_glass, schedule
from tests.factories import make_staff, make_survivor

OWN_TEXT = "Meet Jo at the usual cafe"


def _page(survivor_id: uuid.UUID) -> str:
    return f"/console/survivors/{survivor_id}/check-ins"


@pytest.fixture
def signed_in(browser: Browser, advocate: Staff, clock: FrozenClock) -> Browser:
    browser.sign_in(advocate, clock.now())
    return browser


def _occurrence(db_session: Session, schedule_id: uuid.UUID) -> CheckinOccurrence:
    return db_session.scalars(
        select(CheckinOccurrence).where(CheckinOccurrence.schedule_id == schedule_id)
    ).one()


def test_the_tab_shows_schedules_and_occurrences_with_their_states(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = make_survivor(db_session, runtime, advocate.member)[0]
    db_session.commit()
    empty = signed_in.get(_page(survivor.id)).get_data(as_text=True)
    assert "No check-ins are scheduled." in empty
    assert "No check-ins yet." in empty
    first = schedule(db_session, runtime, survivor.id, hours=2)
    second = schedule(db_session, runtime, survivor.id, hours=5)
    _occurrence(db_session, first.id).state = states.MISSED
    # Her own SMS text is sealed and never shown; only that she wrote one.
    second.custom_text_enc = runtime.vault.seal(
        db_session,
        Binding("checkin_schedules", "custom_text_enc", second.id, survivor.id),
        OWN_TEXT,
    )
    db_session.commit()
    page = signed_in.get(_page(survivor.id))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'aria-current="page">Check-ins</a>' in html
    assert "Disguised as: Appointment" in html
    assert "Their own text" in html
    assert OWN_TEXT not in html
    assert html.count("In the app") == 4  # two schedules, two occurrences
    assert '<span class="state state-alarm">Missed</span>' in html
    assert '<span class="state">Scheduled</span>' in html
    # Newest due first.
    assert html.index("Scheduled</span>") < html.index("Missed</span>")
    assert "paused" not in html.lower()
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "checkin.read")).all()
    assert [e.details for e in event] == [{"via": "caseload"}, {"via": "caseload"}]


def test_a_paused_survivor_is_shown_as_paused_and_a_stopped_schedule_is_gone(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = make_survivor(db_session, runtime, advocate.member)[0]
    row = schedule(db_session, runtime, survivor.id)
    arrangements.cancel_schedule(
        db_session, runtime.clock, Actor("survivor", survivor.id), survivor.id, row.id
    )
    db_session.get_one(CheckinSettings, survivor.id).paused = True
    db_session.commit()
    html = signed_in.get(_page(survivor.id)).get_data(as_text=True)
    assert "Check-ins are paused" in html
    assert "No check-ins are scheduled." in html
    assert '<span class="state">Cancelled</span>' in html


def test_a_duress_sessions_check_ins_stay_on_the_decoy_account(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = make_survivor(db_session, runtime, advocate.member)[0]
    decoy = decoys.ensure_decoy(db_session, runtime.clock, survivor)
    schedule(db_session, runtime, decoy.id)
    db_session.commit()
    assert "No check-ins are scheduled." in signed_in.get(_page(survivor.id)).get_data(as_text=True)
    assert signed_in.get(_page(decoy.id)).status_code == 404


def test_another_advocates_survivor_is_not_found(
    signed_in: Browser, db_session: Session, runtime: Runtime
) -> None:
    other, _ = make_staff(db_session, runtime)
    theirs = make_survivor(db_session, runtime, other)[0]
    schedule(db_session, runtime, theirs.id)
    db_session.commit()
    answer = signed_in.get(_page(theirs.id))
    assert answer.status_code == 404
    assert "Disguised as" not in answer.get_data(as_text=True)
    assert signed_in.get(_page(uuid.uuid4())).status_code == 404


def test_a_break_glass_supervisor_reads_the_tab_and_nothing_is_written(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    survivor = make_survivor(db_session, runtime, advocate.member)[0]
    supervisor = make_member(db_session, runtime, role="supervisor")
    break_glass(db_session, runtime, supervisor.member, survivor.id)
    db_session.commit()
    browser.sign_in(supervisor, clock.now())
    assert browser.get(_page(survivor.id)).status_code == 200
    # A reader creates no settings row (the survivor's app makes it when she first uses them).
    assert db_session.get(CheckinSettings, survivor.id) is None
    assert db_session.scalar(select(func.count()).select_from(CheckinSchedule)) == 0


def test_the_tab_is_read_only(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = make_survivor(db_session, runtime, advocate.member)[0]
    schedule(db_session, runtime, survivor.id)
    db_session.commit()
    signed_in.get(_page(survivor.id))
    assert signed_in.post(_page(survivor.id), {}).status_code == 405
    assert signed_in.post(_page(survivor.id), {}, csrf=None).status_code in (400, 405)
