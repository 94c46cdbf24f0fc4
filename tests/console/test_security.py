"""The console's defences, tested as an attacker would try them: forged forms, the wrong
credential on the wrong door, another advocate's survivor, malformed forms, framing."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from auth.staff.models import StaffMember
from core.clock import FrozenClock
from core.runtime import Runtime
from messaging.checkins import escalation
from messaging.checkins.models import Escalation
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from web.security import PAGE_CSP

PAGE_DIRECTIVES = {
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
}


def _escalation(db_session: Session, runtime: Runtime, advocate: StaffMember) -> Escalation:
    survivor, _token = make_survivor(db_session, runtime, advocate)
    esc = escalation.escalate(db_session, runtime.clock, None, survivor.id, "help_reply")
    assert esc is not None
    db_session.commit()
    return esc


def _duty(db_session: Session, staff: Staff) -> bool:
    db_session.expire_all()
    member = db_session.get(StaffMember, staff.member.id)
    assert member is not None
    return member.on_duty


@pytest.mark.parametrize("token", [None, "", "forged", "x" * 200])
def test_a_form_without_the_right_csrf_token_changes_nothing(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, token: str | None
) -> None:
    browser.sign_in(advocate, clock.now())
    answer = browser.post("/console/duty", {"on_duty": "y"}, csrf=token)
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    assert _duty(db_session, advocate) is False
    # The same form with the page's token works: the refusal was the token's.
    assert browser.post("/console/duty", {"on_duty": "y"}).status_code == 303
    assert _duty(db_session, advocate) is True


def test_a_token_from_another_browser_is_refused(
    app: Flask, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    mine, theirs = Browser(app), Browser(app)
    mine.sign_in(advocate, clock.now())
    other = make_member(db_session, runtime)
    db_session.commit()
    clock.advance(seconds=31)
    theirs.sign_in(other, clock.now())
    answer = mine.post("/console/duty", {"on_duty": "y"}, csrf=theirs.csrf)
    assert answer.status_code == 400
    assert _duty(db_session, advocate) is False


def test_a_signed_in_page_token_dies_with_sign_out(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session
) -> None:
    browser.sign_in(advocate, clock.now())
    old = browser.csrf
    browser.post("/console/sign-out")
    clock.advance(seconds=31)
    browser.sign_in(advocate, clock.now())
    assert browser.post("/console/duty", {"on_duty": "y"}, csrf=old).status_code == 400
    assert _duty(db_session, advocate) is False


def test_every_console_answer_carries_the_strict_headers(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    asset = browser.get("/console/static/console.css")
    asset.close()
    answers = [
        browser.get("/console/sign-in"),
        browser.get("/console/today"),  # a redirect to sign in
        asset,
        browser.post("/console/duty", {}, csrf=None),  # not signed in
        browser.sign_in(advocate, clock.now()),
    ]
    token = browser.csrf
    answers += [
        browser.post("/console/duty", {}, csrf="forged"),
        browser.get("/console/today/queue"),
        browser.post(f"/console/escalations/{uuid.uuid4()}/acknowledge", csrf=token),  # 404
        browser.client.put("/console/today"),  # 405
        browser.get("/console/no-such-page"),  # 404 before any route
    ]
    for answer in answers:
        directives = {d.strip() for d in answer.headers["Content-Security-Policy"].split(";")}
        assert directives >= PAGE_DIRECTIVES, answer.request.path
        assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answers[0].headers["Content-Security-Policy"] == PAGE_CSP


def test_no_inline_script_or_style_on_any_page(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    pages = [browser.get("/console/sign-in"), browser.sign_in(advocate, clock.now())]
    for page in pages:
        html = page.get_data(as_text=True)
        assert "<script>" not in html
        assert "<style" not in html
        assert " style=" not in html
        assert " on" + "click=" not in html


def test_survivor_partner_and_api_credentials_open_no_page(
    app: Flask, db_session: Session, runtime: Runtime
) -> None:
    advocate, staff_token = make_staff(db_session, runtime)
    _survivor, survivor_token = make_survivor(db_session, runtime, advocate)
    _decoy, decoy_token = make_survivor(db_session, runtime, advocate, decoy=True)
    _agency, partner_token = make_agency(db_session, runtime)
    db_session.commit()
    client = app.test_client()
    for token in (staff_token, survivor_token, decoy_token, partner_token):
        for path in ("/console/today", "/console/today/queue", "/console/"):
            answer = client.get(path, headers=auth_header(token))
            assert answer.status_code == 303, (path, answer.status_code)
            assert answer.headers["Location"].endswith("/console/sign-in")


def test_a_console_cookie_is_refused_on_the_api(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    browser.sign_in(advocate, clock.now())
    for path in ("/v1/staff/me", "/v1/staff/escalations", "/v1/staff/caseload"):
        answer = browser.client.get(path)
        assert answer.status_code == 401, path
        assert answer.mimetype == "application/problem+json"
    # Nor does the console's session token work as a bearer token.
    with browser.client.session_transaction() as cookie:
        console_token = cookie["sid"]
    assert console_token.startswith("sc_")
    answer = browser.client.get("/v1/staff/me", headers=auth_header(console_token))
    assert answer.status_code == 401


def test_an_api_session_token_put_in_the_cookie_opens_no_page(
    app: Flask, db_session: Session, runtime: Runtime
) -> None:
    _member, api_token = make_staff(db_session, runtime)
    db_session.commit()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["sid"] = api_token
    assert client.get("/console/today").status_code == 303
    # The same row's digest with the console prefix is no console session either.
    with client.session_transaction() as cookie:
        cookie["sid"] = "sc_" + api_token.removeprefix("st_")
    assert client.get("/console/today").status_code == 303


def test_another_advocates_escalation_is_a_404_page_and_unchanged(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    other, _ = make_staff(db_session, runtime)
    esc = _escalation(db_session, runtime, other)
    browser.sign_in(advocate, clock.now())
    for action, form in (("acknowledge", {}), ("resolve", {"note": "closing it"})):
        answer = browser.post(f"/console/escalations/{esc.id}/{action}", form)
        assert answer.status_code == 404
        assert answer.mimetype == "text/html"
    # Nor is it on my Today.
    assert f'data-escalation="{esc.id}"' not in browser.get("/console/today").get_data(as_text=True)
    db_session.expire_all()
    row = db_session.get(Escalation, esc.id)
    assert row is not None
    assert row.state == "escalated"
    assert row.resolution_note_enc is None


def test_my_escalation_is_acknowledged_and_resolved_from_today(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    esc = _escalation(db_session, runtime, advocate.member)
    page = browser.sign_in(advocate, clock.now()).get_data(as_text=True)
    assert f'data-escalation="{esc.id}"' in page
    assert browser.post(f"/console/escalations/{esc.id}/acknowledge").status_code == 303
    db_session.expire_all()
    assert db_session.get(Escalation, esc.id).state == "acknowledged"  # type: ignore[union-attr]
    browser.get("/console/today")
    resolved = browser.post(f"/console/escalations/{esc.id}/resolve", {"note": "Called; safe."})
    assert resolved.status_code == 303
    db_session.expire_all()
    assert db_session.get(Escalation, esc.id).state == "resolved"  # type: ignore[union-attr]
    assert f'data-escalation="{esc.id}"' not in browser.get("/console/today").get_data(as_text=True)


@pytest.mark.parametrize(
    "note",
    ["nul \x00 inside", "bell \x07", "escape \x1b[2J", "x" * 5000],
)
def test_malformed_forms_get_a_clear_4xx_page_and_change_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    note: str,
) -> None:
    esc = _escalation(db_session, runtime, advocate.member)
    browser.sign_in(advocate, clock.now())
    answer = browser.post(f"/console/escalations/{esc.id}/resolve", {"note": note})
    assert 400 <= answer.status_code < 500
    assert answer.mimetype == "text/html"
    db_session.expire_all()
    assert db_session.get(Escalation, esc.id).state == "escalated"  # type: ignore[union-attr]


def test_a_lone_surrogate_in_a_form_is_no_server_error(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    esc = _escalation(db_session, runtime, advocate.member)
    browser.sign_in(advocate, clock.now())
    raw = f"csrf_token={browser.csrf}&note=%ED%A0%80%00".encode()
    answer = browser.client.post(
        f"/console/escalations/{esc.id}/resolve",
        data=raw,
        content_type="application/x-www-form-urlencoded",
    )
    assert 400 <= answer.status_code < 500


def test_a_json_or_oversized_body_is_refused_as_a_page(
    browser: Browser, advocate: Staff, clock: FrozenClock, runtime: Runtime
) -> None:
    browser.sign_in(advocate, clock.now())
    answer = browser.client.post("/console/duty", json={"on_duty": True})
    assert answer.status_code == 415
    assert answer.mimetype == "text/html"
    huge = "x" * (runtime.settings.max_body_bytes + 10)
    answer = browser.client.post("/console/duty", data={"csrf_token": browser.csrf, "n": huge})
    assert answer.status_code == 413
    assert answer.mimetype == "text/html"


def test_admins_reach_no_casework_page(
    browser: Browser, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = make_member(db_session, runtime, role="admin")
    db_session.commit()
    browser.get("/console/sign-in")
    first = browser.post("/console/sign-in", {"email": admin.email, "password": admin.password})
    browser.get(first.headers["Location"])
    from tests.auth.factories_staff import code

    assert admin.seed is not None
    done = browser.post("/console/sign-in/code", {"code": code(admin.seed, clock.now())})
    assert done.status_code == 303
    assert browser.get("/console/today").status_code == 403


def test_an_admin_lands_on_their_account_and_an_enrolling_session_on_enrolment(
    browser: Browser, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = make_member(db_session, runtime, role="admin")
    newcomer = make_member(db_session, runtime, enrolled=False)
    db_session.commit()
    landed = browser.sign_in(admin, clock.now())
    assert landed.status_code == 200
    assert "/console/account" in (landed.request.path or "")
    other = Browser(browser.app)
    other.get("/console/sign-in")
    other.post("/console/sign-in", {"email": newcomer.email, "password": newcomer.password})
    home = other.get("/console/")
    assert home.status_code == 303
    assert home.headers["Location"].endswith("/console/enrol")
