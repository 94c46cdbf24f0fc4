"""Signing in to the console: the API's accounts, steps, throttles and lifetimes."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.staff.models import StaffSession
from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.factories_staff import Staff, code, make_member
from tests.console.browser import Browser

TOKEN_VALUE = re.compile(r'value="[^"]*"')


def test_an_advocate_signs_in_with_password_and_code_and_sees_today(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    page = browser.sign_in(advocate, clock.now())
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<h1>Today</h1>" in text
    assert advocate.member.display_name in text


def test_the_cookie_is_host_only_http_only_secure_and_strict(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    browser.get("/console/sign-in")
    first = browser.post("/console/sign-in", {"email": advocate.email, "password": "wrong"})
    header = first.headers.get("Set-Cookie", None)
    browser.sign_in(advocate, clock.now())
    cookies = [h for h in browser.last.headers.getlist("Set-Cookie")] if browser.last else []
    seen = [header, *cookies]
    set_cookie = next(c for c in seen if c)
    assert set_cookie.startswith("__Host-lantern=")
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "SameSite=Strict" in set_cookie
    assert "Path=/" in set_cookie


def test_every_sign_in_issues_a_new_cookie_and_a_new_console_session(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session
) -> None:
    browser.get("/console/sign-in")
    before = browser.cookie()
    browser.sign_in(advocate, clock.now())
    first = browser.cookie()
    clock.advance(seconds=31)
    browser.sign_in(advocate, clock.now())
    second = browser.cookie()
    assert len({before, first, second}) == 3
    rows = db_session.scalars(
        select(StaffSession).where(
            StaffSession.staff_id == advocate.member.id, StaffSession.stage == "full"
        )
    ).all()
    assert len(rows) == 2
    assert {r.channel for r in rows} == {"console"}


def _failed_page(browser: Browser, email: str, password: str) -> tuple[int, str]:
    browser.get("/console/sign-in")
    response = browser.post("/console/sign-in", {"email": email, "password": password})
    return response.status_code, TOKEN_VALUE.sub("", response.get_data(as_text=True))


def test_every_failed_sign_in_looks_the_same(
    app: object, browser: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    disabled = make_member(db_session, runtime)
    disabled.member.disabled_at = runtime.clock.now()
    db_session.commit()
    answers = {
        _failed_page(browser, "nobody@lantern.test", advocate.password),
        _failed_page(browser, advocate.email, "not the password"),
        _failed_page(browser, disabled.email, disabled.password),
    }
    assert len(answers) == 1
    status, body = answers.pop()
    assert status == 401
    assert "was not accepted" in body


def test_a_wrong_code_looks_like_a_wrong_password(
    browser: Browser, advocate: Staff, clock: FrozenClock
) -> None:
    assert advocate.seed is not None
    browser.get("/console/sign-in")
    first = browser.post(
        "/console/sign-in", {"email": advocate.email, "password": advocate.password}
    )
    browser.get(first.headers["Location"])
    wrong = "000000" if code(advocate.seed, clock.now()) != "000000" else "111111"
    answer = browser.post("/console/sign-in/code", {"code": wrong})
    assert answer.status_code == 401
    assert "The email, password or code was not accepted" in answer.get_data(as_text=True)
    assert browser.get("/console/today").status_code == 303


def test_console_failures_count_against_the_same_allowance_as_the_api(
    browser: Browser, advocate: Staff, app: object, clock: FrozenClock
) -> None:
    from flask import Flask

    from tests.json_client import JsonClient

    assert isinstance(app, Flask)
    for _ in range(4):  # the per-account allowance from one network (auth.attempts)
        assert _failed_page(browser, advocate.email, "wrong")[0] == 401
    # The right password through the API, from the same network, is now refused like a failure.
    api = JsonClient(app)
    answer = api.post(
        "/v1/staff/login",
        json={"email": advocate.email, "password": advocate.password},
        environ_base={"REMOTE_ADDR": browser.address},
    )
    assert answer.status_code in (401, 429)


def test_first_sign_in_enrols_an_authenticator_and_shows_recovery_codes_once(
    browser: Browser, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    newcomer = make_member(db_session, runtime, enrolled=False)
    db_session.commit()
    browser.get("/console/sign-in")
    first = browser.post(
        "/console/sign-in", {"email": newcomer.email, "password": newcomer.password}
    )
    assert first.headers["Location"].endswith("/console/enrol")
    # Until enrolled, the session reaches the enrolment pages and nothing else.
    assert browser.get("/console/today").status_code == 403
    browser.get("/console/enrol")
    shown = browser.post("/console/enrol/start")
    page = shown.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    key = re.search(r"data-enrol-key>([A-Z2-7]+)<", page)
    assert key is not None
    assert key.group(1) not in (shown.request.url or "")
    done = browser.post("/console/enrol", {"code": code(key.group(1), clock.now())})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([^<]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert browser.get("/console/today").status_code == 200


def test_signing_out_ends_the_session_on_the_server(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session
) -> None:
    browser.sign_in(advocate, clock.now())
    stolen = browser.client.get_cookie("__Host-lantern")
    assert stolen is not None
    out = browser.post("/console/sign-out")
    assert out.status_code == 303
    # A copy of the cookie taken before signing out opens nothing afterwards.
    thief = Browser(browser.app)
    thief.client.set_cookie("__Host-lantern", stolen.value, domain="localhost")
    assert thief.get("/console/today").status_code == 303
    row = db_session.scalars(
        select(StaffSession).where(
            StaffSession.staff_id == advocate.member.id, StaffSession.stage == "full"
        )
    ).one()
    db_session.refresh(row)
    assert row.revoked_reason == "logout"


def test_an_idle_console_is_signed_out_and_polling_does_not_keep_it_alive(
    browser: Browser, advocate: Staff, clock: FrozenClock, runtime: Runtime
) -> None:
    browser.sign_in(advocate, clock.now())
    idle = dt.timedelta(minutes=runtime.settings.staff_idle_minutes)
    steps = 6
    for _ in range(steps):
        clock.advance(seconds=(idle / steps).total_seconds())
        polled = browser.get("/console/today/queue", headers={"X-Lantern-Passive": "1"})
        assert polled.status_code in (200, 401)
    clock.advance(seconds=1)
    assert browser.get("/console/today").status_code == 303


def test_activity_keeps_the_console_signed_in(
    browser: Browser, advocate: Staff, clock: FrozenClock, runtime: Runtime
) -> None:
    browser.sign_in(advocate, clock.now())
    idle = dt.timedelta(minutes=runtime.settings.staff_idle_minutes)
    for _ in range(4):
        clock.advance(seconds=(idle / 2).total_seconds())
        assert browser.get("/console/today").status_code == 200
