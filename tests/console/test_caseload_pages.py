"""The caseload page: my survivors with what needs attention, searched by case label without
the label ever reaching a URL."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.runtime import Runtime
from messaging.checkins import escalation
from tests.auth.factories_staff import Staff
from tests.console.browser import Browser
from tests.factories import make_staff, make_survivor


def test_caseload_lists_only_my_survivors_with_open_escalations_first(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    quiet, _ = make_survivor(db_session, runtime, advocate.member)
    urgent, _ = make_survivor(db_session, runtime, advocate.member)
    other_advocate, _ = make_staff(db_session, runtime)
    someone_elses, _ = make_survivor(db_session, runtime, other_advocate)
    assert escalation.escalate(db_session, runtime.clock, None, urgent.id, "help_reply")
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    page = browser.get("/console/caseload")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index(f'data-survivor="{urgent.id}"') < html.index(f'data-survivor="{quiet.id}"')
    assert str(someone_elses.id) not in html
    assert 'aria-current="page">Caseload' in html


def test_the_search_is_posted_and_filters_by_label(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    first, _ = make_survivor(db_session, runtime, advocate.member)
    second, _ = make_survivor(db_session, runtime, advocate.member)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get("/console/caseload")
    wanted = str(first.id)[:8]
    found = browser.post("/console/caseload", {"q": wanted})
    assert found.status_code == 200
    assert wanted not in (found.request.url or "")
    html = found.get_data(as_text=True)
    assert f'data-survivor="{first.id}"' in html
    assert f'data-survivor="{second.id}"' not in html
    # A search without its CSRF token is refused like any other form.
    assert browser.post("/console/caseload", {"q": wanted}, csrf=None).status_code == 400


def _assess(db_session: Session, runtime: Runtime, survivor_id: object, answer: str) -> None:
    import uuid

    from api.wiring import wire
    from auth.access.permissions import SurvivorAccess
    from auth.principals import SurvivorPrincipal
    from safety_plans import assessments

    assert isinstance(survivor_id, uuid.UUID)
    me = SurvivorPrincipal(survivor_id=survivor_id, device_id=uuid.uuid4(), decoy=False)
    answers = {f"q{i}": answer for i in range(1, 25)}
    assessments.take(
        db_session,
        SurvivorAccess(survivor_id, "self", me),
        runtime.clock,
        wire(runtime).safety_plans,
        instrument_id="dash",
        answers=answers,
    )


def test_the_risk_band_shows_only_where_the_plan_is_shared(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    from api.wiring import wire
    from auth.principals import StaffPrincipal
    from safety_plans import profile
    from safety_plans.caseload_risk import caseload_bands

    shared, _ = make_survivor(db_session, runtime, advocate.member)
    private, _ = make_survivor(db_session, runtime, advocate.member)
    other, _ = make_staff(db_session, runtime)
    elsewhere, _ = make_survivor(db_session, runtime, other)
    for survivor in (shared, private, elsewhere):
        _assess(db_session, runtime, survivor.id, "yes")
    profile.profile_of(db_session, runtime.clock, private.id).plan_shared = False
    db_session.commit()
    me = StaffPrincipal(advocate.member.id, "advocate", advocate.member.id, None)
    bands = caseload_bands(
        db_session,
        me,
        wire(runtime).safety_plans,
        survivor_ids=[shared.id, private.id, elsewhere.id],
    )
    assert set(bands) == {shared.id}
    browser.sign_in(advocate, clock.now())
    html = browser.get("/console/caseload").get_data(as_text=True)
    row = html.split(f'data-survivor="{shared.id}"')[1].split("</tr>")[0]
    assert bands[shared.id].replace("_", " ") in row


def test_an_advocate_names_a_case_and_finds_it_by_that_name(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    named, _ = make_survivor(db_session, runtime, advocate.member)
    other, _ = make_survivor(db_session, runtime, advocate.member)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get("/console/caseload")
    saved = browser.post(f"/console/survivors/{named.id}/case-label", {"case_label": "Rowan K."})
    assert saved.status_code == 303
    assert "Rowan" not in saved.headers["Location"]
    page = browser.get("/console/caseload").get_data(as_text=True)
    assert "Rowan K." in page
    found = browser.post("/console/caseload", {"q": "rowan"}).get_data(as_text=True)
    assert f'data-survivor="{named.id}"' in found
    assert f'data-survivor="{other.id}"' not in found
    # The label is stored sealed: its text is nowhere in the table.
    from sqlalchemy import text

    raw = db_session.execute(text("SELECT label_enc FROM case_labels")).scalars().all()
    assert raw
    assert all(b"Rowan" not in bytes(r) for r in raw)


def test_naming_a_case_without_the_token_or_with_a_bad_label_changes_nothing(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    survivor, _ = make_survivor(db_session, runtime, advocate.member)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    url = f"/console/survivors/{survivor.id}/case-label"
    assert browser.post(url, {"case_label": "Forged"}, csrf=None).status_code == 400
    for bad in ("x" * 81, "nul\x00", "\u202eevil"):
        answer = browser.post(url, {"case_label": bad})
        assert 400 <= answer.status_code < 500, bad
    html = browser.get("/console/caseload").get_data(as_text=True)
    assert "Forged" not in html
    assert "evil" not in html
