"""My account's on-duty phone, and every account form forged or malformed: nothing changes,
the answer is a 4xx page, and the phone never appears in full in a page or a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from auth.staff import phone
from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.factories_staff import NEW_PASSWORD, Staff, fresh_code
from tests.console.account_probes import audits, failures, live_sessions, member_row, signed_in
from tests.console.browser import Browser
from web.logs import configure_logging

PHONE = "+44 7911 123456"
E164 = "+447911123456"
# Any run of the number's digits a page or a log line could carry.
PHONE_PIECES = ("7911123456", "7911 123456", "447911", "123456")


# --- the on-duty phone ----------------------------------------------------------------------


@pytest.fixture
def printed(app: Flask) -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("DEBUG", stream=buf)
    yield buf
    configure_logging("INFO")


def test_the_duty_phone_is_set_shown_masked_and_removed_and_never_shown_or_logged_in_full(
    printed: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
) -> None:
    caplog.set_level(logging.DEBUG)
    pages: list[str] = []
    signed_in(browser, advocate, clock)
    answer = browser.post("/console/account/duty", {"phone": PHONE, "on_duty": "y"})
    assert answer.status_code == 303
    pages.append(browser.get(answer.headers["Location"]).get_data(as_text=True))
    assert "Your on-duty settings are saved." in pages[-1]
    assert "ending in <strong>56</strong>" in pages[-1]
    assert "**********56" in pages[-1]
    member = member_row(db_session, advocate)
    assert phone.staff_phone(runtime.keyring, member) == E164
    assert member.on_duty is True
    # Off duty, the phone kept: an empty phone field keeps the number.
    answer = browser.post("/console/account/duty", {"phone": ""})
    pages.append(browser.get(answer.headers["Location"]).get_data(as_text=True))
    member = member_row(db_session, advocate)
    assert (member.on_duty, phone.staff_phone(runtime.keyring, member)) == (False, E164)
    # A number with letters: the API's message, nothing changed, nothing echoed.
    refused = browser.post("/console/account/duty", {"phone": "+44 7911 12345A", "on_duty": "y"})
    assert refused.status_code == 422
    pages.append(refused.get_data(as_text=True))
    assert "Not a valid phone number." in pages[-1]
    member = member_row(db_session, advocate)
    assert (member.on_duty, phone.staff_phone(runtime.keyring, member)) == (False, E164)
    answer = browser.post("/console/account/duty/remove-phone")
    assert answer.status_code == 303
    pages.append(browser.get(answer.headers["Location"]).get_data(as_text=True))
    assert "No phone is set" in pages[-1]
    assert phone.staff_phone(runtime.keyring, member_row(db_session, advocate)) is None
    assert [e.details for e in audits(db_session, "staff.duty_changed")] == [
        {"on_duty": True, "phone_set": True},
        {"on_duty": False, "phone_set": True},
        {"on_duty": False, "phone_set": False},
    ]
    raw = [r.getMessage() + " " + repr(r.__dict__) for r in caplog.records]
    for piece in PHONE_PIECES:
        assert not any(piece in page for page in pages), piece
        assert piece not in printed.getvalue(), piece
        assert not any(piece in line for line in raw), piece


@pytest.mark.parametrize(
    "value",
    ["+44 7911 12345A", "tel:+447911123456", "+44 7911 123456 ext 2", "12", "9" * 40, "+0"],
)
def test_a_number_that_is_not_a_phone_gets_the_apis_message_and_changes_nothing(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, value: str
) -> None:
    signed_in(browser, advocate, clock)
    answer = browser.post("/console/account/duty", {"phone": value, "on_duty": "y"})
    assert answer.status_code == 422
    assert answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert "Not a valid phone number." in page
    assert len(value) < 5 or value not in page  # never echoed (a short one is in any page)
    member = member_row(db_session, advocate)
    assert (member.on_duty, member.phone_enc) == (False, None)


# --- forged and malformed forms -------------------------------------------------------------


def test_posts_without_the_csrf_token_change_nothing(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
) -> None:
    assert advocate.seed is not None
    other = Browser(app)
    signed_in(other, advocate, clock)
    signed_in(browser, advocate, clock)
    browser.post("/console/account/duty", {"phone": PHONE})
    member = member_row(db_session, advocate)
    before = (member.password_hash, member.phone_enc, member.on_duty, member.totp_secret_enc)
    forged = {
        "/console/account/password": {
            "current_password": advocate.password,
            "code": fresh_code(advocate.seed, clock),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
        "/console/account/authenticator": {
            "current_password": advocate.password,
            "code": fresh_code(advocate.seed, clock),
        },
        "/console/account/duty": {"phone": "+44 7911 654321", "on_duty": "y"},
        "/console/account/duty/remove-phone": {},
        "/console/account/sessions/end-others": {},
    }
    for path, form in forged.items():
        for token in (None, "", "forged"):
            answer = browser.post(path, form, csrf=token)
            assert answer.status_code == 400, (path, token)
            assert answer.mimetype == "text/html"
    member = member_row(db_session, advocate)
    assert (member.password_hash, member.phone_enc, member.on_duty, member.totp_secret_enc) == (
        before
    )
    assert sorted(row.stage for row in live_sessions(db_session, advocate)) == ["full", "full"]
    assert other.get("/console/account").status_code == 200
    assert failures(runtime, db_session, advocate) == 0


HUGE = "p" * 10_000
MALFORMED = [
    ("/console/account/password", "current_password", "nul \x00 inside"),
    ("/console/account/password", "new_password", "bell \x07 and escape \x1b[2J here"),
    ("/console/account/password", "current_password", HUGE),
    ("/console/account/password", "new_password", HUGE),
    ("/console/account/password", "code", "1" * 1000),
    ("/console/account/authenticator", "current_password", HUGE),
    ("/console/account/authenticator", "recovery_code", "\x00" * 8),
    ("/console/account/duty", "phone", "+44 7911\x00123456"),
    ("/console/account/duty", "phone", "+44 7911\x0b123456"),
    ("/console/account/duty", "phone", "+44 " + "7" * 5000),
]


@pytest.mark.parametrize(("path", "field", "value"), MALFORMED)
def test_malformed_input_is_a_4xx_page_and_changes_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    path: str,
    field: str,
    value: str,
) -> None:
    assert advocate.seed is not None
    signed_in(browser, advocate, clock)
    member = member_row(db_session, advocate)
    before = (member.password_hash, member.phone_enc, member.on_duty, member.totp_pending_enc)
    form = {
        "current_password": advocate.password,
        "code": fresh_code(advocate.seed, clock),
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
        "on_duty": "y",
    }
    form[field] = value
    if field == "new_password":
        form["new_password_again"] = value
    answer = browser.post(path, form)
    assert 400 <= answer.status_code < 500
    assert answer.mimetype == "text/html"
    assert value not in answer.get_data(as_text=True)
    member = member_row(db_session, advocate)
    assert (member.password_hash, member.phone_enc, member.on_duty, member.totp_pending_enc) == (
        before
    )
    assert [row.stage for row in live_sessions(db_session, advocate)] == ["full"]
    assert failures(runtime, db_session, advocate) == 0


def test_a_lone_surrogate_in_the_phone_is_no_server_error(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session
) -> None:
    signed_in(browser, advocate, clock)
    raw = f"csrf_token={browser.csrf}&on_duty=y&phone=%2B44%ED%A0%807911".encode()
    answer = browser.client.post(
        "/console/account/duty", data=raw, content_type="application/x-www-form-urlencoded"
    )
    assert 400 <= answer.status_code < 500
    assert member_row(db_session, advocate).on_duty is False
