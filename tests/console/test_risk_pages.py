"""The record's Risk tab: the form drawn from each instrument, taking an assessment through the
API's own service, the history and MARAC eligibility, and every refusal an attacker would try."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.jobs import Job
from core.runtime import Runtime
from safety_plans import assessments, profile
from safety_plans.assessments import RISK_ALERT_JOB
from safety_plans.models import RiskAssessment
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.console.records import as_survivor, break_glass, dash_answers, deps, share, take_dash
from tests.factories import make_staff, make_survivor


def _survivor(db_session: Session, runtime: Runtime, staff: Staff) -> Survivor:
    survivor = make_survivor(db_session, runtime, staff.member)[0]
    db_session.commit()
    return survivor


def _base(survivor_id: uuid.UUID) -> str:
    return f"/console/survivors/{survivor_id}/risk"


def _form(answers: dict[str, str | int], **extra: str) -> dict[str, str]:
    form = {f"answer-{k}": str(v) for k, v in answers.items()}
    return {"instrument_id": "dash", "professional_judgement": "", "notes": "", **form, **extra}


def _count(db_session: Session, survivor_id: uuid.UUID) -> int:
    return (
        db_session.scalar(
            select(func.count())
            .select_from(RiskAssessment)
            .where(RiskAssessment.survivor_id == survivor_id)
        )
        or 0
    )


def _alerts(db_session: Session) -> int:
    return (
        db_session.scalar(select(func.count()).select_from(Job).where(Job.kind == RISK_ALERT_JOB))
        or 0
    )


@pytest.fixture
def signed_in(browser: Browser, advocate: Staff, clock: FrozenClock) -> Browser:
    browser.sign_in(advocate, clock.now())
    return browser


def test_the_tab_shows_history_marac_and_the_instruments(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    page = signed_in.get(_base(survivor.id))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "No assessments yet." in html
    assert "No assessment has met a MARAC referral criterion." in html
    assert 'aria-current="page">Risk</a>' in html
    for instrument in ("dash", "lethality_screen"):
        assert f"/risk/new?instrument={instrument}" in html
    taken = take_dash(db_session, runtime, survivor.id, yes=15)
    db_session.commit()
    html = signed_in.get(_base(survivor.id)).get_data(as_text=True)
    assert "DASH risk checklist" in html
    assert "High" in html
    assert "band-high" in html
    assert "Meets a MARAC referral criterion since" in html
    assert f"/risk/assessments/{taken.id}" in html
    assert "The survivor, in the app" in html
    # Nothing of hers in the page title.
    assert re.search(r"<title>Survivor record · Lantern</title>", html)


def test_each_item_is_drawn_as_the_control_its_answer_type_needs(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    html = signed_in.get(_base(survivor.id) + "/new?instrument=dash").get_data(as_text=True)
    for i in range(1, 25):
        for choice in ("yes", "no", "unknown"):
            assert f'type="radio" name="answer-q{i}" value="{choice}"' in html
    assert html.count("<fieldset") == 24
    assert 'type="number" name="answer-incidents_12_months"' in html
    assert '<label for="answer-incidents_12_months">' in html
    assert '<select name="professional_judgement"' in html
    for band in ("standard", "medium", "high"):
        assert f'<option value="{band}"' in html
    lethality = signed_in.get(_base(survivor.id) + "/new?instrument=lethality_screen")
    assert lethality.get_data(as_text=True).count("<fieldset") == 11
    assert signed_in.get(_base(survivor.id) + "/new?instrument=nope").status_code == 404
    assert signed_in.get(_base(survivor.id) + "/new").status_code == 404


def test_taking_the_dash_checklist_records_it_as_the_api_does(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    signed_in.get(_base(survivor.id) + "/new?instrument=dash")
    form = _form(
        dash_answers(yes=10, incidents=3),
        professional_judgement="high",
        notes="Seen at the clinic.",
    )
    answer = signed_in.post(_base(survivor.id) + "/assessments", form)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    row = db_session.scalars(
        select(RiskAssessment).where(RiskAssessment.survivor_id == survivor.id)
    ).one()
    assert answer.headers["Location"].endswith(f"/risk/assessments/{row.id}")
    assert row.taken_by_kind == "staff"
    assert row.taken_by_id == advocate.member.id
    # What the service keeps, read back as the API reads it.
    view = assessments.get_assessment(
        db_session, as_survivor(survivor.id), runtime.clock, deps(runtime), assessment_id=row.id
    )
    assert view.answers == dash_answers(yes=10, incidents=3)
    assert view.professional_judgement == "high"
    assert view.notes == "Seen at the clinic."
    assert view.result.computed_band == "medium"
    assert view.result.band == "high"
    assert view.result.raised_by_judgement
    assert view.result.referral
    assert set(view.result.fired) == {"potential_escalation"}
    # Its effects: MARAC eligibility and the urgent alert job, in the same transaction.
    db_session.expire_all()
    assert profile.profile_of(db_session, runtime.clock, survivor.id).marac_assessment_id == row.id
    assert _alerts(db_session) == 1
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "risk_assessment.write")
    ).one()
    assert event.survivor_id == survivor.id
    assert event.details == {"via": "caseload"}
    shown = signed_in.get(answer.headers["Location"]).get_data(as_text=True)
    assert "This result meets a MARAC referral criterion." in shown
    assert "raised by professional judgement from Medium" in shown
    assert "Seen at the clinic." in shown
    assert "Three or more incidents in the past 12 months" in shown


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_the_forms_token_records_nothing(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime, token: str | None
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    answer = signed_in.post(_base(survivor.id) + "/assessments", _form(dash_answers()), csrf=token)
    assert answer.status_code == 400
    assert "This form has expired" in answer.get_data(as_text=True)
    assert _count(db_session, survivor.id) == 0


def test_another_advocates_survivor_is_not_found_on_every_risk_page(
    signed_in: Browser, db_session: Session, runtime: Runtime
) -> None:
    other, _ = make_staff(db_session, runtime)
    theirs = make_survivor(db_session, runtime, other)[0]
    taken = take_dash(db_session, runtime, theirs.id, yes=3)
    db_session.commit()
    token = signed_in.csrf
    base = _base(theirs.id)
    for path in (base, base + "/new?instrument=dash", f"{base}/assessments/{taken.id}"):
        assert signed_in.get(path).status_code == 404, path
    answer = signed_in.post(base + "/assessments", _form(dash_answers(yes=20)), csrf=token)
    assert answer.status_code == 404
    assert _count(db_session, theirs.id) == 1


def test_an_assessment_of_another_survivor_is_not_reached_through_this_ones_url(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    mine = _survivor(db_session, runtime, advocate)
    also_mine = _survivor(db_session, runtime, advocate)
    other, _ = make_staff(db_session, runtime)
    theirs = make_survivor(db_session, runtime, other)[0]
    for owner in (also_mine, theirs):
        taken = take_dash(db_session, runtime, owner.id)
        db_session.commit()
        assert signed_in.get(f"{_base(mine.id)}/assessments/{taken.id}").status_code == 404


def test_a_break_glass_supervisor_reads_the_tab_but_cannot_take_an_assessment(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    taken = take_dash(db_session, runtime, survivor.id, yes=2)
    supervisor = make_member(db_session, runtime, role="supervisor")
    break_glass(db_session, runtime, supervisor.member, survivor.id)
    db_session.commit()
    browser.sign_in(supervisor, clock.now())
    html = browser.get(_base(survivor.id)).get_data(as_text=True)
    assert "break-glass grant, which is read only" in html
    assert "/risk/new" not in html
    assert f"/risk/assessments/{taken.id}" in html
    form_page = browser.get(_base(survivor.id) + "/new?instrument=dash")
    assert form_page.status_code == 200
    assert "answer-q1" not in form_page.get_data(as_text=True)
    answer = browser.post(_base(survivor.id) + "/assessments", _form(dash_answers(yes=20)))
    assert answer.status_code == 404
    assert _count(db_session, survivor.id) == 1
    assert _alerts(db_session) == 0


def test_when_the_plan_is_not_shared_the_tab_says_so_and_nothing_is_taken(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    taken = take_dash(db_session, runtime, survivor.id)
    share(db_session, runtime, survivor.id, plan=False)
    db_session.commit()
    for path in (_base(survivor.id), f"{_base(survivor.id)}/assessments/{taken.id}"):
        html = signed_in.get(path).get_data(as_text=True)
        assert "Not shared with staff" in html
        assert "has not shared their safety plan and risk assessments" in html
        assert "DASH risk checklist," not in html
    answer = signed_in.post(_base(survivor.id) + "/assessments", _form(dash_answers(yes=20)))
    assert answer.status_code == 404
    assert "Not shared with staff" in answer.get_data(as_text=True)
    assert _count(db_session, survivor.id) == 1


MALFORMED: dict[str, tuple[dict[str, str], int]] = {
    "unknown item": ({"answer-q99": "yes"}, 422),
    "an item id longer than any": ({"answer-" + "q" * 80: "yes"}, 422),
    "word for a yes/no": ({"answer-q1": "maybe"}, 422),
    "number for a yes/no": ({"answer-q1": "5"}, 422),
    "word for a number": ({"answer-incidents_12_months": "lots"}, 422),
    "negative number": ({"answer-incidents_12_months": "-1"}, 422),
    "number over the bound": ({"answer-incidents_12_months": "10001"}, 422),
    "huge number": ({"answer-incidents_12_months": "9" * 5000}, 422),
    "NUL": ({"answer-q1": "yes\x00"}, 400),
    "control character in notes": ({"notes": "a\x1bb"}, 400),
    "notes too long": ({"notes": "x" * 5001}, 422),
    "unknown band": ({"professional_judgement": "extreme"}, 422),
    "field the form never had": ({"is_admin": "1"}, 422),
    "unknown instrument": ({"instrument_id": "made_up"}, 404),
    "no instrument": ({"instrument_id": ""}, 404),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_answers_are_refused_and_nothing_is_stored(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime, case: str
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    changes, status = MALFORMED[case]
    form: dict[str, Any] = _form(dash_answers(yes=20))
    form.update(changes)
    answer = signed_in.post(_base(survivor.id) + "/assessments", form)
    assert answer.status_code == status, answer.get_data(as_text=True)[:2000]
    assert answer.mimetype == "text/html"
    assert _count(db_session, survivor.id) == 0
    assert _alerts(db_session) == 0
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "risk_assessment.write")
        )
        == 0
    )


def test_a_refused_form_comes_back_with_the_answers_kept_and_what_to_fix(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    answers = dash_answers(yes=3)
    del answers["q7"]
    answer = signed_in.post(_base(survivor.id) + "/assessments", _form(answers, notes="kept"))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert '<a href="#q-q7">Question 7</a>: An answer is required.' in html
    assert 'name="answer-q1" value="yes" id="answer-q1-yes" checked' in html
    assert 'name="answer-q5" value="no" id="answer-q5-no" checked' in html
    assert ">kept</textarea>" in html
    assert _count(db_session, survivor.id) == 0


def test_more_than_the_body_limit_is_refused_before_anything_reads_it(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    big = "x" * (runtime.settings.max_body_bytes + 1)
    answer = signed_in.post(_base(survivor.id) + "/assessments", _form(dash_answers(), notes=big))
    assert answer.status_code == 413
    assert _count(db_session, survivor.id) == 0


def test_repeated_answers_to_one_question_are_refused(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    body = (
        "&".join(f"{k}={v}" for k, v in _form(dash_answers()).items())
        + f"&answer-q1=yes&csrf_token={signed_in.csrf}"
    )
    answer = signed_in.client.post(
        _base(survivor.id) + "/assessments",
        data=body,
        content_type="application/x-www-form-urlencoded",
        environ_base={"REMOTE_ADDR": signed_in.address},
    )
    assert answer.status_code == 422
    assert "Give one answer." in answer.get_data(as_text=True)
    assert _count(db_session, survivor.id) == 0


def test_notes_are_shown_as_text_never_as_markup(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = _survivor(db_session, runtime, advocate)
    signed_in.get(_base(survivor.id) + "/new?instrument=dash")
    form = _form(dash_answers(), notes="<script>x()</script>")
    answer = signed_in.post(_base(survivor.id) + "/assessments", form)
    html = signed_in.get(answer.headers["Location"]).get_data(as_text=True)
    assert "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>" not in html
