"""The Messages tab at its edges: pages of older messages, a cursor that is not ours, bytes
that are not UTF-8, markup in a message, and the per-minute limit on sending."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.runtime import Runtime
from messaging.conversations import STAFF, Reader, post_message
from messaging.models import ConversationMessage
from tests.auth.factories_staff import Staff
from tests.console.browser import Browser
from tests.console.record_worlds import survivor_says
from tests.factories import make_survivor


def _page(survivor_id: uuid.UUID, tail: str = "") -> str:
    return f"/console/survivors/{survivor_id}/messages{tail}"


def _survivor(db: Session, runtime: Runtime, staff: Staff) -> uuid.UUID:
    survivor, _token = make_survivor(db, runtime, staff.member)
    db.commit()
    return survivor.id


def _count(db: Session, survivor_id: uuid.UUID) -> int:
    db.expire_all()
    return len(
        db.scalars(
            select(ConversationMessage.id).where(ConversationMessage.survivor_id == survivor_id)
        ).all()
    )


def test_a_cursor_that_is_not_ours_is_a_4xx_page(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    answer = browser.get(_page(sid, "?cursor=bm90LWEtY3Vyc29y"))
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"


def test_older_messages_are_a_page_further(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    for n in range(52):
        survivor_says(db_session, runtime, sid, f"message number {n:02d}")
        clock.advance(seconds=1)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    first = browser.get(_page(sid)).get_data(as_text=True)
    assert "message number 51" in first
    assert "message number 01" not in first
    older = re.search(r'href="([^"]*cursor=[^"]*)"', first)
    assert older is not None
    second = browser.get(older.group(1)).get_data(as_text=True)
    assert "message number 01" in second
    assert "message number 51" not in second


def test_bytes_that_are_not_utf8_never_become_a_surrogate_or_a_500(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """A lone surrogate cannot be sent in a form (the body is bytes): the encoded surrogate is
    read as U+FFFD by the form parser, so what is stored is text PostgreSQL accepts."""
    sid = _survivor(db_session, runtime, advocate)
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    raw = f"csrf_token={browser.csrf}&body=hi%ED%A0%80".encode()
    answer = browser.client.post(
        _page(sid), data=raw, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code < 500
    shown = browser.get(_page(sid)).get_data(as_text=True)
    assert all(not "\ud800" <= ch <= "\udfff" for ch in shown)


def test_what_the_survivor_wrote_is_shown_as_text_never_as_markup(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    survivor_says(db_session, runtime, sid, '<img src=x onerror="alert(1)">')
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    html = browser.get(_page(sid)).get_data(as_text=True)
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<img src=x" not in html


def test_past_the_limit_a_send_is_refused_with_the_text_kept(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    me = Reader(STAFF, advocate.member.id)
    for n in range(runtime.settings.staff_messages_per_minute):
        post_message(db_session, clock, runtime.vault, sid, me, f"note {n}")
    db_session.commit()
    before = _count(db_session, sid)
    browser.sign_in(advocate, clock.now())
    browser.get(_page(sid))
    answer = browser.post(_page(sid), {"body": "One more, kept"})
    assert answer.status_code == 429
    assert "One more, kept" in answer.get_data(as_text=True)
    assert _count(db_session, sid) == before
