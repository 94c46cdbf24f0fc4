"""An attacker's review of the console (and the edge it needed): what broke, kept as tests.

Findings the review fixed are plain tests. Findings it only described are ``xfail(strict=True)``
with the reason: they fail loudly (XPASS) once fixed, so that the marker is then removed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

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

