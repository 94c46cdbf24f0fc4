"""Staff accounts: the first admin, invitations, the staff list, disabling, ending sessions.

Accounts come into being two ways only: ``lantern staff create --role admin`` for the first
admin (bootstrap), and a single-use, expiring invitation from an admin. A new account has no
authenticator: it must log in and enrol TOTP before it reaches anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from auth import attempts
from auth.deps import AuthDeps
from auth.principals import StaffPrincipal
from auth.staff import passwords
from auth.staff.login import normalise_email
from auth.staff.models import ROLES, StaffInvitation, StaffMember, StaffRecoveryCode
from auth.staff.recovery import active_admin_ids
from auth.staff.sessions import revoke_sessions
from core import audit
from core.clock import Clock
from core.crypto import SecretHasher, random_token, token_digest
from core.db import is_postgres
from core.errors import Conflict, InvalidInput, LanternError, NotFound
from core.ids import new_id
from core.notices import notify_staff
from core.settings import Settings

log = logging.getLogger(__name__)

INVITATION_PREFIX = "si_"


class InvitationNotValid(LanternError):
    """One answer for an unknown, used, revoked or expired invitation."""

    status = 404
    type_slug = "invitation-not-valid"
    title = "Invitation not valid"
    keep_changes = True  # the attempt slot taken for it must stay counted


class AdminExists(LanternError):
    status = 409
    type_slug = "admin-exists"
    title = "An admin already exists"


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    id: uuid.UUID
    token: str  # shown once to the inviting admin, to pass on
    email: str
    role: str
    expires_at: dt.datetime


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput("unknown role", errors={"role": [f"One of: {', '.join(ROLES)}."]})


def _email_taken(session: Session, email: str) -> bool:
    return session.scalar(select(StaffMember.id).where(StaffMember.email == email)) is not None


def _new_member(
    session: Session,
    clock: Clock,
    hasher: SecretHasher,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
) -> StaffMember:
    now = clock.now()
    member = StaffMember(
        id=new_id(),
        email=email,
        display_name=display_name,
        role=role,
        password_hash=passwords.hash_new_password(
            hasher, password, email=email, display_name=display_name
        ),
        password_changed_at=now,
        on_duty=False,
        created_at=now,
    )
    session.add(member)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Two creations racing for one email: the unique constraint decides.
        raise Conflict("A staff member with this email already exists.") from None
    return member


def bootstrap_admin(
    session: Session,
    clock: Clock,
    hasher: SecretHasher,
    *,
    email: str,
    display_name: str,
    password: str,
    force: bool = False,
) -> StaffMember:
    """Create an admin from the command line; refused when an active admin exists (unless
    ``force``: recovering an instance whose admins are all locked out)."""
    email = normalise_email(email)
    if active_admin_ids(session) and not force:
        raise AdminExists("An active admin exists; admins invite further staff.")
    if _email_taken(session, email):
        raise Conflict("A staff member with this email already exists.")
    member = _new_member(
        session,
        clock,
        hasher,
        email=email,
        display_name=display_name.strip(),
        role="admin",
        password=password,
    )
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "staff.created",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"role": "admin", "via": "bootstrap", "forced": force},
    )
    return member


def create_invitation(
    session: Session,
    principal: StaffPrincipal,
    clock: Clock,
    settings: Settings,
    *,
    email: str,
    role: str,
    display_name: str,
) -> IssuedInvitation:
    """A single-use invitation; earlier open invitations for the same email are revoked."""
    _check_role(role)
    email = normalise_email(email)
    if _email_taken(session, email):
        raise Conflict("A staff member with this email already exists.")
    now = clock.now()
    session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.email == email,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    token = INVITATION_PREFIX + random_token(32)
    invitation = StaffInvitation(
        id=new_id(),
        token_digest=token_digest(token),
        email=email,
        display_name=display_name.strip(),
        role=role,
        invited_by=principal.staff_id,
        created_at=now,
        expires_at=now + dt.timedelta(hours=settings.staff_invitation_hours),
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.invited",
        subject_kind="staff_invitation",
        subject_id=invitation.id,
        details={"role": role},
    )
    return IssuedInvitation(invitation.id, token, email, role, invitation.expires_at)


def accept_invitation(
    session: Session,
    clock: Clock,
    deps: AuthDeps,
    *,
    token: str,
    password: str,
    display_name: str | None,
    client_address: str | None = None,
) -> StaffMember:
    """Redeem an invitation once: the account exists, without an authenticator yet.

    Each try takes an attempt slot for the client address first (``auth.attempts``): tokens
    cannot be guessed, but a machine trying them is stopped all the same.
    """
    now = clock.now()
    address = "invitation:" + attempts.network_of(client_address)
    taken = attempts.take(session, clock, deps.attempts, [(attempts.TOKEN_ADDRESS, address)])
    if taken is None:
        raise InvitationNotValid("The invitation is unknown, used or expired; ask for a new one.")
    invitation = session.scalars(
        select(StaffInvitation).where(StaffInvitation.token_digest == token_digest(token))
    ).one_or_none()
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise InvitationNotValid("The invitation is unknown, used or expired; ask for a new one.")
    name = (display_name or invitation.display_name).strip()
    # Single use even under a race: only the request that marks it used goes on.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(StaffInvitation)
            .where(StaffInvitation.id == invitation.id, StaffInvitation.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise InvitationNotValid("The invitation is unknown, used or expired; ask for a new one.")
    set_committed_value(invitation, "used_at", now)
    attempts.succeeded(session, deps.attempts, taken)
    if _email_taken(session, invitation.email):
        raise Conflict("A staff member with this email already exists.")
    member = _new_member(
        session,
        clock,
        deps.hasher,
        email=invitation.email,
        display_name=name,
        role=invitation.role,
        password=password,
    )
    audit.record(
        session,
        clock,
        audit.Actor("staff", member.id),
        "staff.created",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"role": member.role, "via": "invitation", "invitation_id": str(invitation.id)},
    )
    return member


def list_staff(session: Session) -> list[StaffMember]:
    return list(session.scalars(select(StaffMember).order_by(StaffMember.created_at)))


def _target(session: Session, staff_id: uuid.UUID, *, lock: bool = False) -> StaffMember:
    stmt = select(StaffMember).where(StaffMember.id == staff_id)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    member = session.scalars(stmt).one_or_none()
    if member is None:
        raise NotFound()
    return member


def disable_staff(
    session: Session, principal: StaffPrincipal, clock: Clock, *, staff_id: uuid.UUID
) -> StaffMember:
    """Disable an account and end all its sessions at once. The last active admin stays."""
    now = clock.now()
    member = _target(session, staff_id)
    if member.disabled_at is not None:
        return member
    if member.role == "admin":
        # Lock every active admin row so that two admins disabling each other at the same
        # moment cannot both succeed and leave none.
        stmt = select(StaffMember.id).where(
            StaffMember.role == "admin", StaffMember.disabled_at.is_(None)
        )
        if is_postgres(session):
            stmt = stmt.with_for_update()
        admins = list(session.scalars(stmt))
        if [a for a in admins if a != member.id] == []:
            raise Conflict("This is the last active admin; appoint another admin first.")
    member.disabled_at = now
    ended = revoke_sessions(session, member.id, now, "account_disabled")
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.disabled",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"sessions_ended": ended},
    )
    log.info(
        "staff account disabled",
        extra={"event": "staff_disabled", "staff_id": str(member.id)},
    )
    return member


def end_sessions_of(
    session: Session, principal: StaffPrincipal, clock: Clock, *, staff_id: uuid.UUID
) -> int:
    """An admin ends every session of one staff member (their own included, if chosen)."""
    member = _target(session, staff_id)
    ended = revoke_sessions(session, member.id, clock.now(), "ended_by_admin")
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.sessions_ended",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"scope": "all", "count": ended},
    )
    return ended


def reset_second_factor(
    session: Session, principal: StaffPrincipal, clock: Clock, *, staff_id: uuid.UUID
) -> StaffMember:
    """An admin clears someone's authenticator and recovery codes (phone and codes lost).

    The member must enrol a new authenticator at their next login; every session ends now.
    Admins cannot do this to themselves: a second person must, so a stolen admin password
    alone cannot be turned into a fresh authenticator.
    """
    if staff_id == principal.staff_id:
        raise Conflict("Ask another admin to reset your authenticator.")
    member = _target(session, staff_id)
    now = clock.now()
    member.totp_secret_enc = None
    member.totp_pending_enc = None
    member.totp_enrolled_at = None
    member.totp_last_step = None
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == member.id))
    ended = revoke_sessions(session, member.id, now, "second_factor_reset")
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.second_factor_reset",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"sessions_ended": ended},
    )
    others = [a for a in active_admin_ids(session) if a != principal.staff_id]
    notify_staff(
        session,
        clock,
        [member.id, *others],
        "staff.second_factor_reset",
        urgency="high",
        details={"staff_id": str(member.id)},
    )
    return member


def enable_staff(
    session: Session, principal: StaffPrincipal, clock: Clock, *, staff_id: uuid.UUID
) -> StaffMember:
    """Undo a disable (a mistaken one must not keep an advocate out in a crisis)."""
    member = _target(session, staff_id)
    if member.disabled_at is None:
        return member
    member.disabled_at = None
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.enabled",
        subject_kind="staff_member",
        subject_id=member.id,
    )
    return member
