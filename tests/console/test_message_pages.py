"""The Messages tab of the survivor record: the conversation behind a fresh second factor
(step-up), sending, receipts, and everything an attacker would try at the form."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.attempts import STAFF_ACCOUNT, STAFF_ACCOUNT_TOTAL
from auth.authn import CONSOLE_CHANNEL
from auth.staff.models import StaffSession
from auth.staff.sessions import account_subject
from core.clock import FrozenClock
from core.runtime import Runtime
from messaging import conversations as conv
from messaging.models import ConversationMessage, MessageReceipt
from tests.auth.attempt_probes import count
from tests.auth.factories_staff import Staff, code, fresh_code, login, make_member, post
from tests.console.browser import Browser
from tests.console.record_worlds import (
    audited,
    break_glass,
    decoy_on_caseload,
    lapse_step_up,
    survivor_says,
)
from tests.factories import make_survivor
from tests.json_client import JsonClient

SECRET = "He took my keys again, can you call after 6?"


def _page(survivor_id: uuid.UUID, tail: str = "") -> str:
    return f"/console/survivors/{survivor_id}/messages{tail}"


def _messages(db: Session, survivor_id: uuid.UUID) -> list[ConversationMessage]:
    db.expire_all()
    return list(
        db.scalars(
            select(ConversationMessage).where(ConversationMessage.survivor_id == survivor_id)
        )
    )


def _second_factor_at(db: Session, staff: Staff) -> dt.datetime | None:
    db.expire_all()
    return db.scalar(
        select(func.max(StaffSession.second_factor_at)).where(
            StaffSession.staff_id == staff.member.id
        )
    )


def _survivor(db: Session, runtime: Runtime, staff: Staff) -> uuid.UUID:
    survivor, _token = make_survivor(db, runtime, staff.member)
    db.commit()
    return survivor.id


def test_the_conversation_shows_receipts_and_settings_and_is_marked_read(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    conv.set_lifetime(db_session, clock, sid, "24h")
    said = survivor_says(db_session, runtime, sid, SECRET)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    answer = browser.get(_page(sid))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert SECRET.replace("'", "&#39;") in html
    assert "after 24 hours" in html
    assert 'aria-current="page">Messages<' in html
    assert 'class="state new"' in html
    assert SECRET not in answer.headers.get("Content-Security-Policy", "")
    # Opening the conversation reads it, as the app's POST .../messages/read would.
    db_session.expire_all()
    receipt = db_session.scalars(
        select(MessageReceipt).where(MessageReceipt.message_id == said)
    ).one()
    assert receipt.reader_id == advocate.member.id
    assert receipt.read_at is not None
    assert (
        conv.unread_count(db_session, clock, sid, conv.Reader(conv.STAFF, advocate.member.id)) == 0
    )
    assert audited(db_session, sid, "messages.read") == 1
    # Read once: no longer new.
    assert 'class="state new"' not in browser.get(_page(sid)).get_data(as_text=True)


def test_a_message_is_sent_and_shows_its_receipt(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    answer = browser.post(_page(sid), {"body": "Yes, I will call at 6:15."})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(_page(sid))
    [sent] = _messages(db_session, sid)
    assert sent.sender_staff_id == advocate.member.id
    assert b"6:15" not in sent.body_enc  # sealed at rest
    assert audited(db_session, sid, "messages.send") == 1
    html = browser.get(_page(sid)).get_data(as_text=True)
    assert "Yes, I will call at 6:15." in html
    assert "Not delivered yet" in html


def test_without_a_fresh_code_the_conversation_is_not_shown_and_a_send_changes_nothing(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    said = survivor_says(db_session, runtime, sid, SECRET)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    lapse_step_up(clock)
    prompt = browser.get(_page(sid))
    html = prompt.get_data(as_text=True)
    assert prompt.status_code == 200
    assert "He took my keys" not in html
    assert 'autocomplete="one-time-code"' in html
    # Asked for a code, not read: nothing delivered, nothing audited as a read.
    db_session.expire_all()
    assert (
        db_session.scalars(select(MessageReceipt).where(MessageReceipt.message_id == said)).all()
        == []
    )
    assert audited(db_session, sid, "messages.read") == 0
    assert audited(db_session, sid, "survivor.read") == 1
    sent = browser.post(_page(sid), {"body": "Typed while the code lapsed"})
    page = sent.get_data(as_text=True)
    assert sent.status_code == 401
    assert "Typed while the code lapsed" in page  # nothing typed is lost
    assert 'name="code"' in page
    assert "He took my keys" not in page
    assert [m.sender_kind for m in _messages(db_session, sid)] == ["survivor"]
    assert audited(db_session, sid, "messages.send") == 0


def test_a_fresh_code_opens_the_conversation(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    survivor_says(db_session, runtime, sid, SECRET)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    lapse_step_up(clock)
    browser.get(_page(sid))
    assert advocate.seed is not None
    answer = browser.post(_page(sid, "/step-up"), {"code": fresh_code(advocate.seed, clock)})
    assert answer.status_code == 303
    assert _second_factor_at(db_session, advocate) == clock.now()
    assert "He took my keys" in browser.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_message_sent_after_the_lapse_goes_with_its_code(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    lapse_step_up(clock)
    asked = browser.post(_page(sid), {"body": "Are you safe to talk?"})
    assert asked.status_code == 401
    assert advocate.seed is not None
    code = fresh_code(advocate.seed, clock)
    answer = browser.post(_page(sid), {"body": "Are you safe to talk?", "code": code})
    assert answer.status_code == 303
    [sent] = _messages(db_session, sid)
    assert sent.sender_staff_id == advocate.member.id
    assert "Are you safe to talk?" in browser.get(_page(sid)).get_data(as_text=True)


def test_a_wrong_code_is_refused_like_the_api_and_keeps_the_text(
    browser: Browser,
    client: JsonClient,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    total = account_subject(advocate.email)
    browser.sign_in(advocate, clock.now())
    lapse_step_up(clock)
    token = login(client, advocate, clock)  # (a right code clears the account's count)
    browser.get(_page(sid))
    refused = browser.post(_page(sid), {"body": "Keep this text", "code": "000000"})
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "Keep this text" in page
    assert "000000" not in page  # a code is never echoed
    assert _messages(db_session, sid) == []
    assert count(runtime, db_session, STAFF_ACCOUNT_TOTAL, total) == 1
    session_id = db_session.scalars(
        select(StaffSession.id).where(
            StaffSession.staff_id == advocate.member.id, StaffSession.channel == CONSOLE_CHANNEL
        )
    ).one()
    per_session = f"{total}|session:{session_id}"
    assert count(runtime, db_session, STAFF_ACCOUNT, per_session) == 1
    # The step-up form counts under the same keys...
    again = browser.post(_page(sid, "/step-up"), {"code": "111111"})
    assert again.status_code == 403
    assert count(runtime, db_session, STAFF_ACCOUNT_TOTAL, total) == 2
    # ...and so does the API's step-up, whichever door a guesser uses.
    api = post(client, "/v1/staff/step-up", {"code": "222222"}, token)
    assert api.status_code == 403
    assert count(runtime, db_session, STAFF_ACCOUNT_TOTAL, total) == 3
    assert audited(db_session, sid, "messages.send") == 0


def test_after_four_wrong_codes_even_the_right_one_waits(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    lapse_step_up(clock)
    browser.get(_page(sid))
    for wrong in ("000001", "000002", "000003", "000004"):
        assert browser.post(_page(sid, "/step-up"), {"code": wrong}).status_code == 403
    assert advocate.seed is not None
    # The next step's code (an authenticator a little ahead), without waiting out the lock.
    right = code(advocate.seed, clock.now() + dt.timedelta(seconds=30))
    locked = browser.post(_page(sid), {"body": "Still here", "code": right})
    assert locked.status_code == 403
    assert "Still here" in locked.get_data(as_text=True)
    assert _messages(db_session, sid) == []


def test_forms_without_the_csrf_token_change_nothing(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    assert browser.post(_page(sid), {"body": "forged"}, csrf=None).status_code == 400
    assert browser.post(_page(sid), {"body": "forged"}, csrf="forged").status_code == 400
    lapse_step_up(clock)
    before = _second_factor_at(db_session, advocate)
    assert advocate.seed is not None
    code = fresh_code(advocate.seed, clock)
    forged = browser.post(_page(sid, "/step-up"), {"code": code}, csrf=None)
    assert forged.status_code == 400
    assert _second_factor_at(db_session, advocate) == before
    assert _messages(db_session, sid) == []


def test_another_advocates_survivor_is_a_404_on_every_form(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    other = make_member(db_session, runtime)
    sid = _survivor(db_session, runtime, other)
    survivor_says(db_session, runtime, sid, SECRET)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    token = browser.csrf
    assert advocate.seed is not None
    for fresh in (True, False):
        if not fresh:
            lapse_step_up(clock)
        code = fresh_code(advocate.seed, clock)
        answers = [
            browser.get(_page(sid)),
            browser.post(_page(sid), {"body": "hello"}, csrf=token),
            browser.post(_page(sid), {"body": "hello", "code": code}, csrf=token),
            browser.post(_page(sid, "/step-up"), {"code": code}, csrf=token),
        ]
        assert [a.status_code for a in answers] == [404, 404, 404, 404]
        assert all("He took my keys" not in a.get_data(as_text=True) for a in answers)
    assert [m.sender_kind for m in _messages(db_session, sid)] == ["survivor"]


def test_a_decoy_account_is_nobodys_case(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    decoy_id = decoy_on_caseload(db_session, sid, advocate.member.id, clock)
    browser.sign_in(advocate, clock.now())
    assert browser.get(_page(decoy_id)).status_code == 404
    assert browser.post(_page(decoy_id), {"body": "hello"}).status_code == 404
    assert _messages(db_session, decoy_id) == []


def test_break_glass_reads_but_cannot_send(
    browser: Browser, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    owner = make_member(db_session, runtime)
    supervisor = make_member(db_session, runtime, role="supervisor")
    sid = _survivor(db_session, runtime, owner)
    survivor_says(db_session, runtime, sid, SECRET)
    break_glass(db_session, runtime, supervisor.member.id, sid)
    db_session.commit()
    browser.sign_in(supervisor, clock.now())
    page = browser.get(_page(sid)).get_data(as_text=True)
    assert "He took my keys" in page
    assert "read only" in page
    assert 'name="body"' not in page
    assert browser.post(_page(sid), {"body": "hello"}).status_code == 404
    lapse_step_up(clock)
    before = _second_factor_at(db_session, supervisor)
    assert supervisor.seed is not None
    code = fresh_code(supervisor.seed, clock)
    answer = browser.post(_page(sid), {"body": "hello", "code": code})
    assert answer.status_code == 404
    assert _second_factor_at(db_session, supervisor) == before  # refused before the code
    assert [m.sender_kind for m in _messages(db_session, sid)] == ["survivor"]


@pytest.mark.parametrize(
    "body",
    ["nul \x00 inside", "bell \x07", "escape \x1b[2J", "x" * 100_000, "   "],
    ids=["nul", "bell", "escape", "100kB", "blank"],
)
def test_malformed_messages_get_a_4xx_page_and_store_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    body: str,
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    answer = browser.post(_page(sid), {"body": body})
    assert 400 <= answer.status_code < 500
    assert answer.mimetype == "text/html"
    assert _messages(db_session, sid) == []
    assert audited(db_session, sid, "messages.send") == 0
