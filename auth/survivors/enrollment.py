"""Enrolling a survivor: an advocate's one-time code, redeemed by the disguised app.

Codes are 12 Crockford base32 characters (60 bits), shown in groups of four (``7KQ2-M9XD-4TBN``)
so they can be read out over the phone. They are single use, expire after
``enrollment_code_hours`` and are stored as a keyed digest (HMAC under the index key): a
leaked table cannot be brute-forced offline. Redemption failures (unknown, used, expired code)
all answer the same, and each attempt takes a slot per client address and per code
(``auth.attempts``) before the code is looked up.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth import attempts
from auth.access.models import CaseloadEntry
from auth.deps import AuthDeps
from auth.principals import StaffPrincipal
from auth.survivors import decoys
from auth.survivors.models import EnrollmentCode, Survivor
from auth.survivors.pins import check_new_pin, hash_pin
from auth.survivors.sessions import IssuedTokens, open_device
from core import audit
from core.clock import Clock
from core.crypto import KeyRing, random_token, token_digest
from core.errors import InvalidInput, LanternError
from core.ids import new_id
from core.settings import Settings

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 12 x 5 bits = 60 bits
GROUP = 4
# Characters people confuse with Crockford digits, mapped as the Crockford spec says.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_DIGEST_PURPOSE = "enrollment-code"


class EnrollmentFailed(LanternError):
    """The code is unknown, used or expired (or redemption is throttled): one answer for all.
    A 401, like a failed login: the code is the credential this request exchanges for a
    session, and the request itself is well formed."""

    status = 401
    type_slug = "enrollment-code-not-accepted"
    title = "Enrollment code not accepted"
    keep_changes = True  # the attempt counter on a known code must persist
    uniform_body = True

    def __init__(self) -> None:
        super().__init__("This code cannot be used. Ask your advocate for a new one.")


@dataclass(frozen=True, slots=True)
class NewCode:
    code: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Enrolled:
    account_handle: str
    tokens: IssuedTokens


def normalize_code(raw: str) -> str | None:
    """Upper-case, without spaces or dashes, confusables mapped; None if it cannot be a code."""
    code = raw.upper().replace(" ", "").replace("-", "").translate(_CONFUSABLE)
    if len(code) != CODE_LENGTH or any(c not in CROCKFORD for c in code):
        return None
    return code


def _format(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def code_digest(keyring: KeyRing, normalized: str) -> str:
    return keyring.keyed_digest(_DIGEST_PURPOSE, normalized)


def create_code(
    session: Session, staff: StaffPrincipal, clock: Clock, keyring: KeyRing, settings: Settings
) -> NewCode:
    """A new single-use enrollment code, created by an advocate or a supervisor."""
    now = clock.now()
    code = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))
    row = EnrollmentCode(
        id=new_id(),
        code_digest=code_digest(keyring, code),
        created_by=staff.staff_id,
        created_at=now,
        expires_at=now + dt.timedelta(hours=settings.enrollment_code_hours),
        failed_attempts=0,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        clock,
        staff.actor,
        "survivor.enrollment_code_created",
        subject_kind="enrollment_code",
        subject_id=row.id,
    )
    return NewCode(_format(code), row.expires_at)


def redeem(
    session: Session,
    clock: Clock,
    deps: AuthDeps,
    *,
    code: str,
    pin: str,
    duress_pin: str | None,
    device_label: str | None,
    client: str,
) -> Enrolled:
    """Create the survivor's account from a code: PINs, data key, caseload, first device."""
    # PIN rules first: they say nothing about the code, so a weak PIN with a bad code is a 422.
    pin = check_new_pin(pin, "pin")
    if duress_pin is not None:
        duress_pin = check_new_pin(duress_pin, "duress_pin")
        if duress_pin == pin:
            raise InvalidInput(
                "The duress PIN must differ from the PIN.",
                errors={"duress_pin": ["Must differ from your PIN."]},
            )
    now = clock.now()
    normalized = normalize_code(code)
    digest = code_digest(deps.keyring, normalized or code)
    # The slot is taken before the code is looked at, so a burst of guesses cannot all be
    # checked before the first is counted.
    taken = attempts.take(
        session,
        clock,
        deps.attempts,
        [
            (attempts.TOKEN_ADDRESS, "enroll-client:" + attempts.network_of(client)),
            (attempts.TOKEN, f"enroll-code:{digest}"),
        ],
    )
    if taken is None:
        raise EnrollmentFailed()
    row = (
        session.scalars(select(EnrollmentCode).where(EnrollmentCode.code_digest == digest)).first()
        if normalized
        else None
    )
    # Spending the code is one conditional update, so two racing redemptions cannot both win.
    spent = 0
    if row is not None and row.expires_at > now:
        spent = session.execute(
            update(EnrollmentCode)
            .where(EnrollmentCode.id == row.id, EnrollmentCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if spent != 1:
        if row is not None:
            row.failed_attempts = (row.failed_attempts or 0) + 1
            session.flush()
        raise EnrollmentFailed()

    attempts.succeeded(session, deps.attempts, taken)
    handle = random_token(32)
    survivor = Survivor(
        id=new_id(),
        handle_digest=token_digest(handle),
        pin_hash=hash_pin(deps.hasher, pin),
        timezone="UTC",
        created_at=now,
    )
    session.add(survivor)
    session.flush()
    if duress_pin is not None:
        decoys.ensure_decoy(session, clock, survivor).pin_hash = hash_pin(deps.hasher, duress_pin)
    assert row is not None  # spent == 1
    row.survivor_id = survivor.id
    session.add(
        CaseloadEntry(
            id=new_id(),
            survivor_id=survivor.id,
            staff_id=row.created_by,
            assigned_by=row.created_by,
            assigned_at=now,
        )
    )
    deps.vault.ensure_key(session, survivor.id)
    tokens = open_device(session, clock, deps, survivor.id, device_label)
    audit.record(
        session,
        clock,
        audit.Actor("survivor", survivor.id),
        "survivor.enrolled",
        subject_kind="enrollment_code",
        subject_id=row.id,
        survivor_id=survivor.id,
    )
    return Enrolled(handle, tokens)
