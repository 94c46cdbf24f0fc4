"""My account: password, authenticator and sessions, through the pages, with the API's
services, counters and audit records underneath; tested as an attacker tries them (a stolen
session guessing the password, a copied cookie). The duty phone and forged or malformed forms:
``test_account_input``."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from auth.attempts import STAFF_ACCOUNT
from auth.staff import recovery
from auth.staff.sessions import account_subject
from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.attempt_probes import count
from tests.auth.factories_staff import (
    NEW_PASSWORD,
    Staff,
    code,
    fresh_code,
    headers,
    login,
    make_member,
    post,
)
from tests.console.account_probes import (
    audits,
    failures,
    live_sessions,
    member_row,
    opens,
    session_of,
    signed_in,
)
from tests.console.browser import Browser
from tests.json_client import JsonClient

REFUSED = "The password or code was not accepted."


# --- who reaches it -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["advocate", "supervisor", "admin"])
def test_every_signed_in_member_reaches_my_account_from_the_header(
    browser: Browser, db_session: Session, runtime: Runtime, clock: FrozenClock, role: str
) -> None:
    staff = make_member(db_session, runtime, role=role)
    db_session.commit()
    signed_in(browser, staff, clock)
    page = browser.get("/console/account")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'href="/console/account" aria-current="page">My account</a>' in text
    for heading in ("On-duty phone", "Change your password", "Replace your authenticator"):
        assert f">{heading}</h2>" in text
    sessions = browser.get("/console/account/sessions")
    assert sessions.status_code == 200
    for html in (text, sessions.get_data(as_text=True)):  # the CSP allows nothing inline
        assert "<script>" not in html
        assert "<style" not in html
        assert " style=" not in html
        assert " on" + "click=" not in html


def test_signed_out_browsers_and_api_tokens_open_no_account_page(
    app: Flask, db_session: Session, runtime: Runtime, clock: FrozenClock, client: JsonClient
) -> None:
    staff = make_member(db_session, runtime)
    db_session.commit()
    token = login(client, staff, clock)
    anonymous = app.test_client()
    for path in ("/console/account", "/console/account/sessions"):
        for answer in (anonymous.get(path), anonymous.get(path, headers=headers(token))):
            assert answer.status_code == 303
            assert answer.headers["Location"].endswith("/console/sign-in")


# --- password -------------------------------------------------------------------------------


def test_a_password_change_ends_every_other_session_and_keeps_this_one(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    client: JsonClient,
) -> None:
    assert advocate.seed is not None
    other = Browser(app)
    signed_in(other, advocate, clock)
    other_cookie = other.cookie()
    assert other_cookie is not None
    api_token = login(client, advocate, clock)
    signed_in(browser, advocate, clock)
    answer = browser.post(
        "/console/account/password",
        {
            "current_password": advocate.password,
            "code": fresh_code(advocate.seed, clock),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 303
    done = browser.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your password is changed" in done
    # The other console session, a copy of its cookie and the API token are all gone.
    assert other.get("/console/account").status_code == 303
    assert not opens(app, other_cookie)
    assert client.get("/v1/staff/me", headers=headers(api_token)).status_code == 401
    assert [row.channel for row in live_sessions(db_session, advocate)] == ["console"]
    [event] = audits(db_session, "staff.password_changed")
    assert event.details == {"sessions_ended": 2}
    # The old password no longer signs in; the new one does.
    old = {"email": advocate.email, "password": advocate.password}
    assert post(client, "/v1/staff/login", old).status_code == 401
    advocate.password = NEW_PASSWORD
    assert login(client, advocate, clock)


@pytest.mark.parametrize("wrong", ["password", "code"])
def test_a_wrong_password_or_code_is_refused_counted_with_the_api_and_changes_nothing(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    client: JsonClient,
    wrong: str,
) -> None:
    assert advocate.seed is not None
    other = Browser(app)
    signed_in(other, advocate, clock)
    # Signed in before the failures: a successful sign-in clears the account's count.
    token = login(client, advocate, clock)
    signed_in(browser, advocate, clock)
    before = member_row(db_session, advocate).password_hash
    good_code = fresh_code(advocate.seed, clock)
    bad_code = "000000" if good_code != "000000" else "111111"
    answer = browser.post(
        "/console/account/password",
        {
            "current_password": "not my password!" if wrong == "password" else advocate.password,
            "code": good_code if wrong == "password" else bad_code,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 403
    assert answer.mimetype == "text/html"
    assert REFUSED in answer.get_data(as_text=True)
    assert member_row(db_session, advocate).password_hash == before
    assert other.get("/console/account").status_code == 200
    # The API's counters: per session and for the account from everywhere, then the API's own
    # refusal adds to the same total.
    mine = session_of(browser, db_session)
    subject = f"{account_subject(advocate.email)}|session:{mine.id}"
    assert count(runtime, db_session, STAFF_ACCOUNT, subject) == 1
    assert failures(runtime, db_session, advocate) == 1
    body = {"current_password": "still wrong!", "code": "000000", "new_password": NEW_PASSWORD}
    assert post(client, "/v1/staff/password", body, token).status_code == 403
    assert failures(runtime, db_session, advocate) == 2
    [event, _api] = audits(db_session, "staff.reauthentication_failed")
    assert event.details == {"action": "password_change", "reason": f"wrong_{wrong}"}


def test_a_stolen_console_session_is_no_password_oracle(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session
) -> None:
    """After the API's allowance of wrong passwords from one session, the right password and
    code are refused in the same words: guessing from inside a session learns nothing."""
    assert advocate.seed is not None
    signed_in(browser, advocate, clock)
    before = member_row(db_session, advocate).password_hash
    right_code = fresh_code(advocate.seed, clock)  # the clock then stands still
    answers = []
    for guess in [f"guess number {n}!" for n in range(4)] + [advocate.password]:
        form = {
            "current_password": guess,
            "code": right_code,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        }
        answers.append(browser.post("/console/account/password", form))
    assert {a.status_code for a in answers} == {403}
    assert {re.sub(r'value="[^"]*"', "", a.get_data(as_text=True)) for a in answers} == {
        re.sub(r'value="[^"]*"', "", answers[0].get_data(as_text=True))
    }
    assert member_row(db_session, advocate).password_hash == before
    reasons = [e.details["reason"] for e in audits(db_session, "staff.reauthentication_failed")]
    assert reasons == ["wrong_password"] * 4 + ["throttled"]


def test_a_weak_password_is_refused_with_its_reason_and_the_code_is_not_used_up(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    assert advocate.seed is not None
    signed_in(browser, advocate, clock)
    before = member_row(db_session, advocate).password_hash
    one_code = fresh_code(advocate.seed, clock)

    def change(new: str, again: str | None = None) -> tuple[int, str]:
        form = {
            "current_password": advocate.password,
            "code": one_code,
            "new_password": new,
            "new_password_again": new if again is None else again,
        }
        answer = browser.post("/console/account/password", form)
        return answer.status_code, answer.get_data(as_text=True)

    status, page = change("short pw")
    assert status == 422
    assert "Use at least 12 characters." in page
    status, page = change("password1234")
    assert status == 422
    assert "Try a longer phrase of unrelated words." in page
    status, page = change(advocate.password)
    assert status == 422
    assert "Choose a password different from the current one." in page
    status, page = change(NEW_PASSWORD, NEW_PASSWORD + "x")
    assert status == 422
    assert "The two new passwords are not the same." in page
    assert member_row(db_session, advocate).password_hash == before
    assert failures(runtime, db_session, advocate) == 0
    assert audits(db_session, "staff.password_changed") == []
    # Nothing was kept of the refused attempts: the same code still changes the password.
    assert change(NEW_PASSWORD)[0] == 303
    assert member_row(db_session, advocate).password_hash != before


# --- authenticator --------------------------------------------------------------------------


def test_replacing_the_authenticator_enrols_a_new_one_with_new_recovery_codes(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    client: JsonClient,
) -> None:
    assert advocate.seed is not None
    old_codes = recovery.issue(db_session, runtime.hasher, clock, advocate.member.id)
    db_session.commit()
    other = Browser(app)
    signed_in(other, advocate, clock)
    api_token = login(client, advocate, clock)
    signed_in(browser, advocate, clock)
    answer = browser.post(
        "/console/account/authenticator",
        {"current_password": advocate.password, "code": fresh_code(advocate.seed, clock)},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/console/enrol")
    assert other.get("/console/account").status_code == 303
    assert client.get("/v1/staff/me", headers=headers(api_token)).status_code == 401
    # Until a new authenticator is confirmed, this session reaches the enrolment pages only,
    # and its header offers nothing else.
    assert browser.get("/console/account").status_code == 403
    start = browser.get("/console/enrol").get_data(as_text=True)
    assert "My account</a>" not in start
    assert "Today</a>" not in start
    assert "your current one still signs you in" in start
    shown = browser.post("/console/enrol/start")
    page = shown.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    key = re.search(r"data-enrol-key>([A-Z2-7]+)<", page)
    assert key is not None
    assert key.group(1) not in (shown.request.url or "")
    done = browser.post("/console/enrol", {"code": code(key.group(1), clock.now())})
    assert done.status_code == 200
    new_codes = re.findall(r"<li><code>([^<]+)</code></li>", done.get_data(as_text=True))
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert browser.get("/console/account").status_code == 200
    [event] = audits(db_session, "staff.totp_enrolled")
    assert event.details["reset"] is True
    # The new seed signs in; the old one no longer does.
    clock.advance(seconds=31)
    fresh = Browser(app)
    fresh.get("/console/sign-in")
    fresh.post("/console/sign-in", {"email": advocate.email, "password": advocate.password})
    fresh.get("/console/sign-in/code")
    old = fresh.post("/console/sign-in/code", {"code": code(advocate.seed, clock.now())})
    assert old.status_code == 401
    advocate.seed = key.group(1)
    clock.advance(seconds=31)
    Browser(app).sign_in(advocate, clock.now())


def test_the_authenticator_can_be_replaced_with_a_recovery_code(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    codes = recovery.issue(db_session, runtime.hasher, clock, advocate.member.id)
    db_session.commit()
    signed_in(browser, advocate, clock)
    answer = browser.post(
        "/console/account/authenticator",
        {"current_password": advocate.password, "recovery_code": codes[0]},
    )
    assert answer.status_code == 303
    assert recovery.remaining(db_session, advocate.member.id) == 9
    assert [row.stage for row in live_sessions(db_session, advocate)] == ["enroll"]


@pytest.mark.parametrize(
    "form",
    [
        {"current_password": "not my password!", "code": "GOOD"},
        {"current_password": "RIGHT", "code": "000000"},
        {"current_password": "RIGHT"},  # no second factor at all
        {"current_password": "RIGHT", "code": "GOOD", "recovery_code": "aaaa-bbbb"},
    ],
)
def test_a_refused_authenticator_reset_is_counted_and_changes_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    form: dict[str, str],
) -> None:
    assert advocate.seed is not None
    signed_in(browser, advocate, clock)
    good = fresh_code(advocate.seed, clock)
    if good == "000000":  # pragma: no cover - one chance in a million
        good = fresh_code(advocate.seed, clock)
    sent = {k: {"GOOD": good, "RIGHT": advocate.password}.get(v, v) for k, v in form.items()}
    answer = browser.post("/console/account/authenticator", sent)
    assert answer.status_code == 403
    assert REFUSED in answer.get_data(as_text=True)
    assert [row.stage for row in live_sessions(db_session, advocate)] == ["full"]
    member = member_row(db_session, advocate)
    assert member.totp_pending_enc is None
    assert failures(runtime, db_session, advocate) == 1
    [event] = audits(db_session, "staff.reauthentication_failed")
    assert event.details["action"] == "totp_reset"
    assert browser.get("/console/account").status_code == 200


# --- sessions -------------------------------------------------------------------------------


def test_my_sessions_lists_both_channels_and_signs_out_the_others(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    client: JsonClient,
) -> None:
    other = Browser(app)
    signed_in(other, advocate, clock)
    other_cookie = other.cookie()
    assert other_cookie is not None
    assert opens(app, other_cookie)  # a copy of a live cookie works, until...
    api_token = login(client, advocate, clock)
    signed_in(browser, advocate, clock)
    page = browser.get("/console/account/sessions").get_data(as_text=True)
    rows = re.findall(r"<tr( data-current)?>\s*<th scope=\"row\">([^<]+)</th>", page)
    assert sorted(name for _, name in rows) == ["App or API", "Web console", "Web console"]
    assert [name for current, name in rows if current] == ["Web console"]
    assert page.count("This one") == 1
    answer = browser.post("/console/account/sessions/end-others")
    assert answer.status_code == 303
    after = browser.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your other sessions are signed out." in after
    assert "This is your only session." in after
    assert other.get("/console/account").status_code == 303
    assert not opens(app, other_cookie)
    assert client.get("/v1/staff/me", headers=headers(api_token)).status_code == 401
    [event] = audits(db_session, "staff.sessions_ended")
    assert event.details == {"scope": "others", "count": 2}
