"""An attacker's review of the console (and the edge it needed): what broke, kept as tests.

Every finding is a plain test now: the three the review described (a link from another site,
one tab's idle lock, error pages without the member) were fixed after it.
"""

from __future__ import annotations

import datetime as dt
from http.cookies import SimpleCookie

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from auth.staff.models import StaffSession
from core.clock import FrozenClock
from core.notices import notify_staff
from core.runtime import Runtime
from tests.auth.factories_staff import Staff, code, make_member
from tests.console.browser import COOKIE, Browser

HTTPS = "https://lantern.example.org"
# What Chromium sends with a form posted from a console page: the pages' Referrer-Policy is
# no-referrer, so there is no Referer, and the Origin of a POST is then "null" (Fetch spec).
NO_REFERRER = {"Origin": "null"}


def test_the_console_signs_in_and_posts_forms_over_https(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    """Behind TLS every form was refused as expired: Flask-WTF's strict mode demands a Referer
    on HTTPS, which the pages' own policy tells the browser never to send (seen in Chromium)."""
    assert advocate.seed is not None
    browser.get("/console/sign-in", base_url=HTTPS)
    first = browser.post(
        "/console/sign-in",
        {"email": advocate.email, "password": advocate.password},
        base_url=HTTPS,
        headers=NO_REFERRER,
    )
    assert first.status_code == 303, first.get_data(as_text=True)
    browser.get(first.headers["Location"], base_url=HTTPS)
    second = browser.post(
        "/console/sign-in/code",
        {"code": code(advocate.seed, clock.now())},
        base_url=HTTPS,
        headers=NO_REFERRER,
    )
    assert second.status_code == 303
    browser.get("/console/today", base_url=HTTPS)
    duty = browser.post("/console/duty", {"on_duty": "y"}, base_url=HTTPS, headers=NO_REFERRER)
    assert duty.status_code == 303
    # The token still decides: a forged one over HTTPS is refused.
    forged = browser.post("/console/duty", {}, csrf="forged", base_url=HTTPS, headers=NO_REFERRER)
    assert forged.status_code == 400


def test_an_urgent_notice_stays_on_today_however_many_lesser_ones_follow_it(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """Today showed the urgent ones among the twenty newest unread notices: twenty texts of
    anything but a reply code from a shared phone (``sms.unattributed``, info), or twenty phone
    changes in the survivor's app, pushed an urgent notice off the page."""
    urgent = notify_staff(
        db_session, clock, [advocate.member.id], "sms.help_unattributed", urgency="urgent"
    )[0]
    for _ in range(25):
        clock.advance(seconds=1)
        notify_staff(db_session, clock, [advocate.member.id], "sms.unattributed", urgency="info")
    db_session.commit()
    page = browser.sign_in(advocate, clock.now() + dt.timedelta(seconds=0)).get_data(as_text=True)
    assert f"/console/notices/{urgent.id}/read" in page
    assert "Sms help unattributed" in page


def _console_rows(db_session: Session, staff: Staff) -> list[StaffSession]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(StaffSession)
            .where(StaffSession.staff_id == staff.member.id, StaffSession.channel == "console")
            .order_by(StaffSession.created_at)
        )
    )


def test_signing_in_again_ends_the_session_the_browser_held(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """A sign-in replaces the browser's cookie; the session the old cookie held lived on (until
    its idle limit) where nobody could sign it out: a copy of the old cookie kept working."""
    browser.sign_in(advocate, clock.now())
    old = browser.cookie()
    assert old is not None
    clock.advance(seconds=31)
    other = make_member(db_session, runtime)
    db_session.commit()
    browser.sign_in(other, clock.now())  # a colleague signs in at the same desk
    first = _console_rows(db_session, advocate)
    assert [r.revoked_reason for r in first] == ["logout"]
    thief = Browser(browser.app)
    thief.client.set_cookie(COOKIE, old, domain="localhost")
    assert thief.get("/console/today").status_code == 303


def _as_chromium_would(browser: Browser, answer: TestResponse) -> None:
    """Apply an answer's Set-Cookie to the browser's jar, as a top-level navigation does."""
    for header in answer.headers.getlist("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        morsel = jar[COOKIE]
        if morsel["max-age"] == "0":
            browser.client.delete_cookie(COOKIE, domain="localhost")
        else:
            browser.client.set_cookie(COOKIE, morsel.value, domain="localhost")


def test_a_link_from_another_site_does_not_sign_the_advocate_out(
    app: Flask, browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    browser.sign_in(advocate, clock.now())
    # A link in a webmail, or a hostile page's window.open: Chromium sends no Strict cookie on
    # a cross-site navigation (nor along its redirects), but applies the answer's Set-Cookie.
    elsewhere = app.test_client()
    for path in ("/console/today", "/console/sign-in", "/console/locked"):
        arrived = elsewhere.get(path, headers={"Sec-Fetch-Site": "cross-site"})
        assert "Set-Cookie" not in arrived.headers
        _as_chromium_would(browser, arrived)
    assert browser.get("/console/today").status_code == 200


def test_the_idle_lock_of_one_tab_neither_signs_out_another_nor_orphans_the_session(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    browser.sign_in(advocate, clock.now())  # tab B: Today, left open, polling passively
    idle = dt.timedelta(minutes=runtime.settings.staff_idle_minutes)
    step = idle / 6
    for _ in range(6):  # tab A: the advocate works on the caseload all along
        clock.advance(seconds=step.total_seconds())
        browser.get("/console/today/queue", headers={"X-Lantern-Passive": "1"})
        assert browser.get("/console/caseload").status_code == 200
    browser.get("/console/locked")  # tab B's countdown reached zero
    still_in = browser.get("/console/caseload").status_code == 200
    ended = all(r.revoked_at is not None for r in _console_rows(db_session, advocate))
    assert still_in or ended


def test_a_signed_in_member_can_sign_out_from_an_error_page(
    browser: Browser, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = make_member(db_session, runtime, role="admin")
    db_session.commit()
    browser.sign_in(admin, clock.now())
    page = browser.get("/console/today")
    assert page.status_code == 403
    assert 'action="/console/sign-out"' in page.get_data(as_text=True)


def test_a_forged_sign_in_spends_none_of_the_accounts_attempts(
    app: Flask, browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    """Login CSRF: a page elsewhere posting the sign-in form (with a token of the attacker's
    own browser, or none) is refused before any password is checked or any slot is taken."""
    attacker = Browser(app)
    attacker.get("/console/sign-in")
    foreign = attacker.csrf
    browser.get("/console/sign-in")
    for token in [foreign, None] * 3:  # more than the account's four attempts
        answer = browser.post(
            "/console/sign-in", {"email": advocate.email, "password": "wrong"}, csrf=token
        )
        assert answer.status_code == 400
    browser.get("/console/sign-in")
    assert browser.sign_in(advocate, clock.now()).status_code == 200
