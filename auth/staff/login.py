"""Two-step staff login: password, then a TOTP or recovery code.

Step one answers a short-lived login ticket (a ``StaffSession`` in stage ``password``, or
``enroll`` when no authenticator is enrolled yet). Step two turns the same row into a full
session under a new token.

Every failure at either step (unknown email, wrong password, disabled account, wrong or
replayed code, expired ticket, throttled) raises the same ``LoginFailed``: same status, same
body with no per-request field, and the same argon2 work (unknown emails are checked against
the dummy hash). Each step takes an attempt slot per account (even for emails that do not
exist, so the lock itself tells nothing) and per client address before anything is checked
(``auth.attempts``), and failures are audited without the email.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import attempts
from auth.authn import API_CHANNEL, new_staff_token
from auth.deps import AuthDeps
from auth.staff import passwords, recovery, totp
from auth.staff.models import StaffMember, StaffSession
from auth.staff.sessions import (
    ENROLL_TTL,
    LOGIN_TICKET_TTL,
    IssuedSession,
    login_subjects,
    promote_to_full,
)
from core import audit
from core.clock import Clock
from core.crypto import token_digest
from core.errors import LanternError
from core.ids import new_id

log = logging.getLogger(__name__)


class LoginFailed(LanternError):
    """The one answer to every failed login, whatever the reason."""

    status = 401
    type_slug = "login-failed"
    title = "Login failed"
    # Audit events and counters written before refusing are kept.
    keep_changes = True
    # No request id in the body: two failures must be byte-identical.
    uniform_body = True

    def __init__(self) -> None:
        super().__init__(
            "The email, password or code was not accepted, or the login took too long. "
            "Check them and start again; after several failures, wait before retrying.",
            headers={"WWW-Authenticate": 'Bearer realm="lantern"'},
        )


@dataclass(frozen=True, slots=True)
class LoginTicket:
    token: str
    next: str  # "code" or "enroll"
    expires_at: dt.datetime


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _fail(
    session: Session,
    clock: Clock,
    reason: str,
    step: str,
    member: StaffMember | None = None,
) -> NoReturn:
    # Nothing to count here: the attempt took its slot before anything was checked.
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "staff.login_failed",
        subject_kind="staff_member" if member is not None else None,
        subject_id=member.id if member is not None else None,
        details={"reason": reason, "step": step},
    )
    log.info("staff login failed", extra={"event": "staff_login_failed", "reason": reason})
    raise LoginFailed()


def begin_login(
    session: Session,
    clock: Clock,
    deps: AuthDeps,
    *,
    email: str,
    password: str,
    client_address: str | None,
    channel: str = API_CHANNEL,
) -> LoginTicket:
    """Step one: check the password; answer a ticket for the code (or enrolment) step.

    ``channel`` is where the session will live (``api`` bearer or ``console`` cookie); the
    ticket and the session it becomes carry it, so a ticket from one cannot finish in the other.
    """
    email = normalise_email(email)
    taken = attempts.take(session, clock, deps.attempts, login_subjects(email, client_address))
    member = session.scalars(select(StaffMember).where(StaffMember.email == email)).one_or_none()
    if taken is None:
        deps.hasher.verify(None, password)  # the same argon2 work as a checked attempt
        _fail(session, clock, "throttled", "password", member)
    ok = passwords.verify_login_password(deps.hasher, member, password)
    if member is None:
        _fail(session, clock, "unknown_account", "password")
    if not ok:
        _fail(session, clock, "wrong_password", "password", member)
    if member.disabled_at is not None:
        _fail(session, clock, "disabled", "password", member)
    # The password is right: the address gets its slot back, but the account keeps it until
    # the second factor is given too, or a stolen password would reopen the code guessing.
    attempts.succeeded(session, deps.attempts, taken, only=attempts.CLIENT_ADDRESS)
    attempts.unlock(session, deps.attempts, taken, attempts.STAFF_ACCOUNT)
    attempts.unlock(session, deps.attempts, taken, attempts.STAFF_ACCOUNT_TOTAL)

    now = clock.now()
    enrolled = member.totp_enrolled_at is not None
    token, digest = new_staff_token(channel)
    row = StaffSession(
        id=new_id(),
        staff_id=member.id,
        token_digest=digest,
        stage="password" if enrolled else "enroll",
        channel=channel,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (LOGIN_TICKET_TTL if enrolled else ENROLL_TTL),
    )
    session.add(row)
    audit.record(
        session,
        clock,
        audit.Actor("staff", member.id),
        "staff.login_password_accepted",
        subject_kind="staff_session",
        subject_id=row.id,
        details={"next": "code" if enrolled else "enroll"},
    )
    if not enrolled:
        # Without an authenticator, a password login is the account's whole security, so
        # it is worth a line in the operational log too.
        log.info(
            "staff login needs enrolment",
            extra={"event": "staff_login_enrol", "staff_id": str(member.id)},
        )
    return LoginTicket(
        token=token, next="code" if enrolled else "enroll", expires_at=row.expires_at
    )


def complete_login(
    session: Session,
    clock: Clock,
    deps: AuthDeps,
    *,
    login_token: str,
    code: str | None,
    recovery_code: str | None,
    client_address: str | None,
    channel: str = API_CHANNEL,
) -> IssuedSession:
    """Step two: a TOTP code (or a recovery code) turns the ticket into a full session."""
    now = clock.now()
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_digest == token_digest(login_token))
    ).one_or_none()
    member = session.get(StaffMember, row.staff_id) if row is not None else None
    taken = attempts.take(
        session,
        clock,
        deps.attempts,
        login_subjects(member.email if member else None, client_address),
    )
    if taken is None:
        _fail(session, clock, "throttled", "code", member)
    if (
        row is None
        or member is None
        or row.channel != channel
        or row.stage != "password"
        or row.revoked_at is not None
        or row.expires_at <= now
    ):
        _fail(session, clock, "invalid_ticket", "code", member)
    if member.disabled_at is not None:
        _fail(session, clock, "disabled", "code", member)
    # Exactly one factor; anything else is one more failure like the others.
    if code is not None and recovery_code is None:
        method = "totp"
        ok = totp.verify_code(session, deps.keyring, member, code, now)
    elif recovery_code is not None and code is None:
        method = "recovery_code"
        ok = recovery.redeem(session, deps.hasher, clock, member, recovery_code)
    else:
        method, ok = "factor", False
    if not ok:
        _fail(session, clock, "wrong_" + method, "code", member)

    issued = promote_to_full(session, row, deps.settings, now)
    if issued is None:  # another request completed this ticket first
        _fail(session, clock, "invalid_ticket", "code", member)
    member.last_login_at = now
    # A complete login clears the account's attempts; the address only gets this attempt's
    # slot back, so one good account cannot launder a spraying machine's record.
    attempts.succeeded(session, deps.attempts, taken)
    audit.record(
        session,
        clock,
        audit.Actor("staff", member.id),
        "staff.login",
        subject_kind="staff_session",
        subject_id=row.id,
        details={"method": method},
    )
    log.info(
        "staff login",
        extra={"event": "staff_login", "staff_id": str(member.id), "method": method},
    )
    return issued
