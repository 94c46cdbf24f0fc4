"""What the My account tests share: a signed-in browser, and the rows and counters they
look at after each form (``test_account_pages``, ``test_account_input``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.attempts import STAFF_ACCOUNT_TOTAL
from auth.staff.models import StaffMember, StaffSession
from auth.staff.sessions import account_subject
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import token_digest
from core.runtime import Runtime
from tests.auth.attempt_probes import count
from tests.auth.factories_staff import Staff
from tests.console.browser import COOKIE, Browser


def signed_in(browser: Browser, staff: Staff, clock: FrozenClock) -> None:
    # Each sign-in needs a code no earlier one used (TOTP replay protection).
    clock.advance(seconds=31)
    browser.sign_in(staff, clock.now())
    browser.get("/console/account")


def member_row(db_session: Session, staff: Staff) -> StaffMember:
    db_session.expire_all()
    member = db_session.get(StaffMember, staff.member.id)
    assert member is not None
    return member


def live_sessions(db_session: Session, staff: Staff) -> list[StaffSession]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(StaffSession).where(
                StaffSession.staff_id == staff.member.id, StaffSession.revoked_at.is_(None)
            )
        ).all()
    )


def audits(db_session: Session, action: str) -> list[AuditEvent]:
    return list(
        db_session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).all()
    )


def session_of(browser: Browser, db_session: Session) -> StaffSession:
    """The staff session row the browser's console cookie holds."""
    with browser.client.session_transaction() as cookie:
        token = cookie["sid"]
    assert token.startswith("sc_")
    return db_session.scalars(
        select(StaffSession).where(StaffSession.token_digest == token_digest(token))
    ).one()


def failures(runtime: Runtime, db_session: Session, staff: Staff) -> int:
    return count(runtime, db_session, STAFF_ACCOUNT_TOTAL, account_subject(staff.email))


def opens(app: Flask, cookie_value: str) -> bool:
    """Whether a copy of a console cookie, in a browser of its own, opens My account."""
    copy = app.test_client()
    copy.set_cookie(COOKIE, cookie_value)
    return copy.get("/console/account").status_code == 200
