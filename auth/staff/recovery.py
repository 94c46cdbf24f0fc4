"""Staff recovery codes: ten single-use codes, shown once, stored argon2-hashed.

A code is 12 characters of Crockford's base32 (no i, l, o, u), grouped ``xxxx-xxxx-xxxx``:
60 random bits, easy to read aloud and type. Input is forgiving (case, spaces, hyphens,
o for 0, i or l for 1). Using a code is audited and notified to the staff member and to
every admin, because it is also what an attacker holding a stolen password list would do.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from auth.staff.models import StaffMember, StaffRecoveryCode
from core import audit, notices
from core.clock import Clock
from core.crypto import SecretHasher
from core.ids import new_id

COUNT = 10
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
GROUPS = 3
GROUP_LENGTH = 4
_LENGTH = GROUPS * GROUP_LENGTH
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1"})
NOTICE_KIND = "staff_recovery_code_used"


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + GROUP_LENGTH] for i in range(0, _LENGTH, GROUP_LENGTH))


def normalise(code: str) -> str | None:
    """The canonical form that is hashed, or None when ``code`` cannot be a recovery code."""
    cleaned = code.lower().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(cleaned) != _LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def issue(session: Session, hasher: SecretHasher, clock: Clock, staff_id: uuid.UUID) -> list[str]:
    """Replace the member's recovery codes with ten new ones; returns them (shown once)."""
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff_id))
    now = clock.now()
    codes = [new_code() for _ in range(COUNT)]
    session.add_all(
        StaffRecoveryCode(
            id=new_id(),
            staff_id=staff_id,
            code_hash=hasher.hash(normalise(code) or ""),
            created_at=now,
        )
        for code in codes
    )
    session.flush()
    return codes


def remaining(session: Session, staff_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(StaffRecoveryCode)
            .where(StaffRecoveryCode.staff_id == staff_id, StaffRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def active_admin_ids(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(StaffMember.id).where(
                StaffMember.role == "admin", StaffMember.disabled_at.is_(None)
            )
        )
    )


def redeem(
    session: Session, hasher: SecretHasher, clock: Clock, member: StaffMember, code: str
) -> bool:
    """Use one recovery code of ``member``: True once per code, then never again."""
    normalised = normalise(code)
    if normalised is None:
        return False
    rows = session.scalars(
        select(StaffRecoveryCode).where(
            StaffRecoveryCode.staff_id == member.id, StaffRecoveryCode.used_at.is_(None)
        )
    ).all()
    match = next((row for row in rows if hasher.verify(row.code_hash, normalised)), None)
    if match is None:
        return False
    now = clock.now()
    # Conditional: of two requests racing with the same code, only one marks it used.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(StaffRecoveryCode)
            .where(StaffRecoveryCode.id == match.id, StaffRecoveryCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return False
    set_committed_value(match, "used_at", now)
    left = remaining(session, member.id)
    audit.record(
        session,
        clock,
        audit.Actor("staff", member.id),
        "staff.recovery_code_used",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"remaining": left},
    )
    notices.notify_staff(
        session,
        clock,
        [member.id, *active_admin_ids(session)],
        NOTICE_KIND,
        urgency="high",
        details={"staff_id": str(member.id), "remaining": left},
    )
    return True
