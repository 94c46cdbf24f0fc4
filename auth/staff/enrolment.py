"""TOTP enrolment: a new seed, confirmed by a code from it, then ten recovery codes.

Reached only by a session in stage ``enroll``: a first login without an authenticator, or a
full session that started a reset (``sessions.start_totp_reset``). Confirmation turns
that same session into a full one under a NEW token (returned once; the enrolment token
stops working) and ends every other session of the account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from auth.deps import AuthDeps
from auth.principals import PendingStaffPrincipal
from auth.staff import recovery, totp
from auth.staff.models import StaffMember, StaffSession
from auth.staff.sessions import ReauthenticationFailed, promote_to_full, revoke_sessions
from core import audit
from core.clock import Clock
from core.crypto import KeyRing
from core.errors import Conflict, NotAuthenticated


@dataclass(frozen=True, slots=True)
class EnrolmentResult:
    recovery_codes: list[str]
    session_token: str
    expires_at: dt.datetime


def _member(session: Session, principal: PendingStaffPrincipal) -> StaffMember:
    member = session.get(StaffMember, principal.staff_id)
    if member is None:  # pragma: no cover - authn found the member moments ago
        raise NotAuthenticated()
    return member


def start_enrolment(
    session: Session, principal: PendingStaffPrincipal, clock: Clock, keyring: KeyRing
) -> totp.Provisioning:
    """A fresh seed (replacing any earlier unconfirmed one) as an otpauth URI and QR code."""
    member = _member(session, principal)
    seed = totp.new_seed()
    member.totp_pending_enc = totp.seal_seed(keyring, member.id, seed, column=totp.PENDING_COLUMN)
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.totp_enrolment_started",
        subject_kind="staff_member",
        subject_id=member.id,
    )
    return totp.provisioning(seed, member.email)


def confirm_enrolment(
    session: Session, principal: PendingStaffPrincipal, clock: Clock, deps: AuthDeps, *, code: str
) -> EnrolmentResult:
    """Activate the pending seed when ``code`` is one of its codes."""
    member = _member(session, principal)
    pending = member.totp_pending_enc
    if pending is None:
        raise Conflict("Start enrolment first: there is no authenticator waiting to be confirmed.")
    now = clock.now()
    seed = totp.open_seed(deps.keyring, member.id, pending, column=totp.PENDING_COLUMN)
    step = totp.matching_step(seed, code, now)
    if step is None:
        raise ReauthenticationFailed("The code is not correct: enter the current code.")
    was_enrolled = member.totp_enrolled_at is not None
    # Conditional on the pending seed read above: a concurrent re-start or confirmation wins
    # or loses as a whole. The step just used is recorded, so this code is never taken again.
    values: dict[str, Any] = {
        "totp_secret_enc": totp.seal_seed(deps.keyring, member.id, seed, column=totp.ACTIVE_COLUMN),
        "totp_pending_enc": None,
        "totp_enrolled_at": now,
        "totp_last_step": step,
    }
    result = cast(
        CursorResult[Any],
        session.execute(
            update(StaffMember)
            .where(StaffMember.id == member.id, StaffMember.totp_pending_enc == pending)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise Conflict("The enrolment changed meanwhile; start again.")
    for name, value in values.items():
        set_committed_value(member, name, value)
    codes = recovery.issue(session, deps.hasher, clock, member.id)
    row = session.get(StaffSession, principal.session_id)
    issued = promote_to_full(session, row, deps.settings, now) if row is not None else None
    if issued is None:
        raise NotAuthenticated()
    ended = revoke_sessions(session, member.id, now, "totp_changed", keep=principal.session_id)
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.totp_enrolled",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"reset": was_enrolled, "sessions_ended": ended},
    )
    return EnrolmentResult(
        recovery_codes=codes, session_token=issued.token, expires_at=issued.expires_at
    )
