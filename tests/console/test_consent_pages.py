"""The Consents tab: listing, a consent given in person (waiting for the survivor's confirmation
in the app), a withdrawal on the survivor's word, and what an attacker would try at the forms."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from auth.partners.models import PartnerAgency
from auth.survivors import decoys
from coordination.alerts import create_alert
from coordination.models import Consent, Delivery
from core.audit import Actor
from core.clock import FrozenClock
from core.ids import new_id
from core.runtime import Runtime
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.console.record_worlds import (
    agency,
    audited,
    break_glass,
    consent_given,
    coordination_deps,
)
from tests.factories import make_survivor


def _page(survivor_id: uuid.UUID, tail: str = "") -> str:
    return f"/console/survivors/{survivor_id}/consents{tail}"


def _consents(db: Session, survivor_id: uuid.UUID) -> list[Consent]:
    db.expire_all()
    return list(db.scalars(select(Consent).where(Consent.survivor_id == survivor_id)))


def _survivor(db: Session, runtime: Runtime, staff: Staff) -> uuid.UUID:
    survivor, _token = make_survivor(db, runtime, staff.member)
    db.commit()
    return survivor.id


def _form(police: PartnerAgency, clock: FrozenClock, **over: str) -> dict[str, str]:
    ends = (clock.now() + dt.timedelta(days=60)).date().isoformat()
    return {
        "agency_id": str(police.id),
        "kinds": "welfare_check",
        "purpose": "Police to check on her if she misses a check-in",
        "ends_on": ends,
        **over,
    }


def test_the_tab_lists_consents_with_their_state_and_text(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    given = consent_given(db_session, runtime, sid, kinds=("welfare_check", "risk_level"))
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    answer = browser.get(_page(sid))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'data-consent="{given.id}"' in html
    assert "Northshire Police" in html
    assert "in force" in html
    assert "You are agreeing that Lantern may share information about you" in html
    assert given.receipt_hash in html
    assert audited(db_session, sid, "consent.list") == 1


def test_a_consent_given_in_person_is_recorded_and_waits_for_the_survivor(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    police = agency(db_session, runtime)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    page = browser.get(_page(sid)).get_data(as_text=True)
    assert f'<option value="{police.id}"' in page
    form = _form(police, clock)
    answer = browser.client.post(
        _page(sid),
        data={**form, "kinds": ["welfare_check", "contact_request"], "csrf_token": browser.csrf},
    )
    assert answer.status_code == 303
    [consent] = _consents(db_session, sid)
    assert consent.given_via == "advocate_recorded"
    assert consent.state == "pending_confirmation"
    assert consent.recorded_by == advocate.member.id
    assert consent.kinds == ["welfare_check", "contact_request"]
    assert consent.expires_at.date() == dt.date.fromisoformat(form["ends_on"])
    assert b"misses a check-in" not in consent.purpose_enc  # sealed at rest
    assert audited(db_session, sid, "consent.recorded") == 1
    listed = browser.get(_page(sid)).get_data(as_text=True)
    assert "waiting for the survivor to confirm it in the app" in listed


def test_a_consent_is_withdrawn_on_the_survivors_word(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    given = consent_given(db_session, runtime, sid)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    unticked = browser.post(_page(sid, f"/{given.id}/revoke"))
    assert unticked.status_code == 422
    assert _consents(db_session, sid)[0].state == "active"
    browser.get(_page(sid))
    answer = browser.post(_page(sid, f"/{given.id}/revoke"), {"confirm": "y"})
    assert answer.status_code == 303
    [consent] = _consents(db_session, sid)
    assert consent.state == "revoked"
    assert consent.revoked_by_id == advocate.member.id
    assert audited(db_session, sid, "consent.revoked") == 1
    assert "withdrawn" in browser.get(_page(sid)).get_data(as_text=True)


def test_withdrawing_cancels_what_waits_to_be_sent(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    given = consent_given(db_session, runtime, sid)
    create_alert(
        db_session,
        Actor.system(),
        clock,
        coordination_deps(runtime),
        survivor_id=sid,
        kind="welfare_check",
        data={},
    )
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    assert browser.post(_page(sid, f"/{given.id}/revoke"), {"confirm": "y"}).status_code == 303
    db_session.expire_all()
    states = db_session.scalars(select(Delivery.state).where(Delivery.consent_id == given.id))
    assert set(states) == {"cancelled"}


@pytest.mark.parametrize(
    "change",
    [
        {"purpose": "nul \x00 inside"},
        {"purpose": "escape \x1b[2J"},
        {"purpose": "x" * 100_000},
        {"purpose": "   "},
        {"kinds": "not_a_kind"},
        {"agency_id": str(uuid.uuid4())},
        {"agency_id": "not-an-id"},
        {"ends_on": "2020-01-01"},
        {"ends_on": "9999-12-31"},
        {"ends_on": "tomorrow"},
    ],
    ids=[
        "nul",
        "escape",
        "100kB",
        "blank",
        "kind",
        "agency",
        "agency-id",
        "past",
        "far",
        "date",
    ],
)
def test_a_malformed_consent_gets_a_4xx_page_and_stores_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    change: dict[str, str],
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    police = agency(db_session, runtime)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    answer = browser.post(_page(sid), _form(police, clock, **change))
    assert 400 <= answer.status_code < 500
    assert answer.mimetype == "text/html"
    assert _consents(db_session, sid) == []
    assert audited(db_session, sid, "consent.recorded") == 0


def test_a_refused_consent_comes_back_as_typed(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    police = agency(db_session, runtime)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    too_long = (clock.now() + dt.timedelta(days=400)).date().isoformat()
    answer = browser.post(_page(sid), _form(police, clock, ends_on=too_long, purpose="Keep me"))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "12 months at most" in html
    assert "Keep me" in html
    assert f'value="{too_long}"' in html
    assert _consents(db_session, sid) == []


def test_forms_without_the_csrf_token_change_nothing(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    police = agency(db_session, runtime)
    given = consent_given(db_session, runtime, sid, to=police)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    assert browser.post(_page(sid), _form(police, clock), csrf=None).status_code == 400
    revoke = browser.post(_page(sid, f"/{given.id}/revoke"), {"confirm": "y"}, csrf="forged")
    assert revoke.status_code == 400
    assert [c.state for c in _consents(db_session, sid)] == ["active"]


def test_another_advocates_survivor_and_consent_are_404(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    other = make_member(db_session, runtime)
    theirs = _survivor(db_session, runtime, other)
    mine = _survivor(db_session, runtime, advocate)
    police = agency(db_session, runtime)
    their_consent = consent_given(db_session, runtime, theirs, to=police)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    assert browser.get(_page(theirs)).status_code == 404
    assert browser.post(_page(theirs), _form(police, clock)).status_code == 404
    revoke = {"confirm": "y"}
    assert browser.post(_page(theirs, f"/{their_consent.id}/revoke"), revoke).status_code == 404
    # Their consent through my survivor's page: no such consent here.
    assert browser.post(_page(mine, f"/{their_consent.id}/revoke"), revoke).status_code == 404
    assert _consents(db_session, theirs)[0].state == "active"
    assert _consents(db_session, mine) == []


def test_a_decoy_account_is_nobodys_case(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    decoy = decoys.decoy_account(db_session, sid)
    assert decoy is not None
    db_session.add(
        CaseloadEntry(
            id=new_id(), survivor_id=decoy.id, staff_id=advocate.member.id, assigned_at=clock.now()
        )
    )
    police = agency(db_session, runtime)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    assert browser.get(_page(decoy.id)).status_code == 404
    assert browser.post(_page(decoy.id), _form(police, clock)).status_code == 404
    assert _consents(db_session, decoy.id) == []


def test_break_glass_reads_but_cannot_record_or_withdraw(
    browser: Browser, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    owner = make_member(db_session, runtime)
    supervisor = make_member(db_session, runtime, role="supervisor")
    sid = _survivor(db_session, runtime, owner)
    police = agency(db_session, runtime)
    given = consent_given(db_session, runtime, sid, to=police)
    break_glass(db_session, runtime, supervisor.member.id, sid)
    db_session.commit()
    browser.sign_in(supervisor, clock.now())
    page = browser.get(_page(sid)).get_data(as_text=True)
    assert f'data-consent="{given.id}"' in page
    assert "read only" in page
    assert "Withdraw now" not in page
    assert 'name="purpose"' not in page
    assert browser.post(_page(sid), _form(police, clock)).status_code == 404
    revoke = browser.post(_page(sid, f"/{given.id}/revoke"), {"confirm": "y"})
    assert revoke.status_code == 404
    assert [c.state for c in _consents(db_session, sid)] == ["active"]


def test_without_an_agency_there_is_nothing_to_record(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    html = browser.get(_page(sid)).get_data(as_text=True)
    assert "No partner agency is set up yet" in html
    assert 'name="purpose"' not in html
