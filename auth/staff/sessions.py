"""Staff sessions after login: listing, logout, ending other sessions, step-up, and the
changes that need the current password and a fresh code (password, TOTP reset).

A session is one ``StaffSession`` row found by the SHA-256 of its opaque ``st_`` token. Its
stage moves ``password`` -> ``full`` (login) or ``enroll`` -> ``full`` (TOTP enrolment), and
every move up gets a new token, so a token seen before the second factor is worth nothing
after it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from auth import attempts
from auth.authn import new_staff_token, staff_session_live
from auth.deps import AuthDeps
from auth.principals import PendingStaffPrincipal, StaffPrincipal
from auth.staff import passwords, recovery, totp
from auth.staff.models import StaffMember, StaffSession
from core import audit
from core.clock import Clock
from core.errors import Conflict, InvalidInput, LanternError, NotAuthenticated
from core.settings import Settings

log = logging.getLogger(__name__)

LOGIN_TICKET_TTL = dt.timedelta(minutes=5)
# Long enough to install an authenticator app and scan the code.
ENROLL_TTL = dt.timedelta(minutes=15)


class ReauthenticationFailed(LanternError):
    """The current password or the code given to confirm a sensitive change was wrong."""

    status = 403
    type_slug = "reauthentication-failed"
    title = "Password or code not accepted"
    # The failure is audited and counted even though the change is refused.
    keep_changes = True


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A full session token, returned once to its owner."""

    token: str
    expires_at: dt.datetime


# --- attempt slots ---------------------------------------------------------------------------


def login_subjects(
    email: str | None, address: str | None
) -> list[tuple[attempts.AttemptPolicy, str]]:
    """What one login step is counted under: the client's network first (refused openly), then
    the account as tried from there, then the account from everywhere.

    The account is counted by email even when no such account exists, so the lock itself says
    nothing about who has an account; and per network, so that a stranger who knows an
    advocate's email locks out his own network, not her office (the total catches a guesser
    spread over many networks).
    """
    network = attempts.network_of(address)
    subjects = [(attempts.CLIENT_ADDRESS, "staff-login:" + network)]
    if email is not None:
        subjects += [
            (attempts.STAFF_ACCOUNT, f"{account_subject(email)}|{network}"),
            (attempts.STAFF_ACCOUNT_TOTAL, account_subject(email)),
        ]
    return subjects


def account_subject(email: str) -> str:
    return "staff:" + email.strip().lower()


# --- session rows ---------------------------------------------------------------------------


def full_expiry(row: StaffSession, settings: Settings) -> dt.datetime:
    """A full session ends ``staff_session_hours`` after the login that started it."""
    return row.created_at + dt.timedelta(hours=settings.staff_session_hours)


def promote_to_full(
    session: Session, row: StaffSession, settings: Settings, now: dt.datetime
) -> IssuedSession | None:
    """Move a ticket or enrolment session to ``full`` under a new token; None when another
    request moved (or ended) it first."""
    token, digest = new_staff_token(row.channel)
    expires_at = full_expiry(row, settings)
    values: dict[str, Any] = {
        "token_digest": digest,
        "stage": "full",
        "second_factor_at": now,
        "last_seen_at": now,
        "expires_at": expires_at,
    }
    # Conditional on the old digest: two requests completing one ticket cannot both win.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(StaffSession)
            .where(
                StaffSession.id == row.id,
                StaffSession.token_digest == row.token_digest,
                StaffSession.revoked_at.is_(None),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    for name, value in values.items():
        set_committed_value(row, name, value)
    return IssuedSession(token=token, expires_at=expires_at)


def revoke_sessions(
    session: Session,
    staff_id: uuid.UUID,
    now: dt.datetime,
    reason: str,
    *,
    keep: uuid.UUID | None = None,
) -> int:
    """End every unexpired session of ``staff_id`` (but ``keep``) in one statement."""
    stmt = update(StaffSession).where(
        StaffSession.staff_id == staff_id,
        StaffSession.revoked_at.is_(None),
        StaffSession.expires_at > now,
    )
    if keep is not None:
        stmt = stmt.where(StaffSession.id != keep)
    result = cast(
        CursorResult[Any],
        session.execute(
            stmt.values(revoked_at=now, revoked_reason=reason).execution_options(
                synchronize_session="fetch"
            )
        ),
    )
    return int(result.rowcount)


def live_sessions(
    session: Session, principal: StaffPrincipal, clock: Clock, settings: Settings
) -> list[StaffSession]:
    """The staff member's own live sessions, newest first."""
    now = clock.now()
    rows = session.scalars(
        select(StaffSession)
        .where(
            StaffSession.staff_id == principal.staff_id,
            StaffSession.revoked_at.is_(None),
            StaffSession.expires_at > now,
        )
        .order_by(StaffSession.created_at.desc())
    ).all()
    return [row for row in rows if staff_session_live(row, settings, now)]


def _member(session: Session, staff_id: uuid.UUID) -> StaffMember:
    member = session.get(StaffMember, staff_id)
    if member is None:  # pragma: no cover - authn found the member moments ago
        raise NotAuthenticated()
    return member


def _row(session: Session, session_id: uuid.UUID) -> StaffSession:
    row = session.get(StaffSession, session_id)
    if row is None:  # pragma: no cover - authn found the row moments ago
        raise NotAuthenticated()
    return row


# --- self-service ---------------------------------------------------------------------------


def whoami(
    session: Session, principal: StaffPrincipal | PendingStaffPrincipal
) -> tuple[StaffMember, StaffSession]:
    return _member(session, principal.staff_id), _row(session, principal.session_id)


def logout(
    session: Session, principal: StaffPrincipal | PendingStaffPrincipal, clock: Clock
) -> None:
    now = clock.now()
    row = _row(session, principal.session_id)
    row.revoked_at, row.revoked_reason = now, "logout"
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.logout",
        subject_kind="staff_session",
        subject_id=row.id,
    )
    log.info("staff logout", extra={"event": "staff_logout", "staff_id": str(principal.staff_id)})


def end_other_sessions(session: Session, principal: StaffPrincipal, clock: Clock) -> int:
    ended = revoke_sessions(
        session, principal.staff_id, clock.now(), "ended_by_owner", keep=principal.session_id
    )
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.sessions_ended",
        subject_kind="staff_member",
        subject_id=principal.staff_id,
        details={"scope": "others", "count": ended},
    )
    return ended


def reauthenticate(
    session: Session,
    principal: StaffPrincipal,
    clock: Clock,
    deps: AuthDeps,
    *,
    action: str,
    password: str | None,
    code: str | None,
    recovery_code: str | None = None,
) -> StaffMember:
    """Check the current password (when asked) and a fresh second factor, or refuse.

    Throttled per account like a login: a stolen session must not become a password oracle.
    """
    member = _member(session, principal.staff_id)
    # Per session (a stolen one is a password oracle) and for the account from everywhere.
    account = account_subject(member.email)
    taken = attempts.take(
        session,
        clock,
        deps.attempts,
        [
            (attempts.STAFF_ACCOUNT, f"{account}|session:{principal.session_id}"),
            (attempts.STAFF_ACCOUNT_TOTAL, account),
        ],
    )
    now = clock.now()
    reason: str | None = None
    if taken is None:
        if password is not None:
            deps.hasher.verify(None, password)  # the same cost as an attempt that is checked
        reason = "throttled"
    elif password is not None and not deps.hasher.verify(member.password_hash, password):
        reason = "wrong_password"
    elif code is not None and recovery_code is None:
        if not totp.verify_code(session, deps.keyring, member, code, now):
            reason = "wrong_code"
    elif recovery_code is not None and code is None:
        if not recovery.redeem(session, deps.hasher, clock, member, recovery_code):
            reason = "wrong_code"
    else:
        reason = "no_single_factor"
    if reason is not None:
        audit.record(
            session,
            clock,
            principal.actor,
            "staff.reauthentication_failed",
            subject_kind="staff_member",
            subject_id=member.id,
            details={"action": action, "reason": reason},
        )
        raise ReauthenticationFailed("The password or code was not accepted.")
    assert taken is not None
    attempts.succeeded(session, deps.attempts, taken)
    return member


def step_up(
    session: Session, principal: StaffPrincipal, clock: Clock, deps: AuthDeps, *, code: str
) -> dt.datetime:
    """A fresh code: sensitive actions are allowed for the next 15 minutes."""
    reauthenticate(session, principal, clock, deps, action="step_up", password=None, code=code)
    now = clock.now()
    _row(session, principal.session_id).second_factor_at = now
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.step_up",
        subject_kind="staff_session",
        subject_id=principal.session_id,
    )
    return now


def change_password(
    session: Session,
    principal: StaffPrincipal,
    clock: Clock,
    deps: AuthDeps,
    *,
    current_password: str,
    code: str,
    new_password: str,
) -> int:
    """Set a new password; ends every other session. Returns how many were ended."""
    # Credentials first, then the policy. A refused new password rolls the whole request
    # back, so the code is not used up; the new password's length is still checked before
    # anything hashes it.
    member = reauthenticate(
        session,
        principal,
        clock,
        deps,
        action="password_change",
        password=current_password,
        code=code,
    )
    passwords.check_policy(new_password, email=member.email, display_name=member.display_name)
    if deps.hasher.verify(member.password_hash, new_password):
        raise InvalidInput(
            "The new password is the current one.",
            errors={"new_password": ["Choose a password different from the current one."]},
        )
    passwords.set_password(deps.hasher, member, new_password, clock)
    now = clock.now()
    _row(session, principal.session_id).second_factor_at = now
    ended = revoke_sessions(session, member.id, now, "password_changed", keep=principal.session_id)
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.password_changed",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"sessions_ended": ended},
    )
    return ended


def start_totp_reset(
    session: Session,
    principal: StaffPrincipal,
    clock: Clock,
    deps: AuthDeps,
    *,
    current_password: str,
    code: str | None,
    recovery_code: str | None,
) -> int:
    """Begin re-enrolment: this session drops to stage ``enroll`` (it reaches only the
    enrolment endpoints until a new seed is confirmed) and every other session ends. The old
    seed keeps working for login until then, so an abandoned reset locks nobody out."""
    member = reauthenticate(
        session,
        principal,
        clock,
        deps,
        action="totp_reset",
        password=current_password,
        code=code,
        recovery_code=recovery_code,
    )
    if member.totp_enrolled_at is None:  # pragma: no cover - a full session implies enrolment
        raise Conflict("No authenticator is enrolled.")
    now = clock.now()
    member.totp_pending_enc = None
    row = _row(session, principal.session_id)
    row.stage = "enroll"
    row.expires_at = min(row.expires_at, now + ENROLL_TTL)
    ended = revoke_sessions(session, member.id, now, "totp_reset", keep=row.id)
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.totp_reset_started",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"sessions_ended": ended},
    )
    return ended
