"""Staff TOTP (RFC 6238): 6 digits, 30-second steps, one step of clock drift, no replays.

Seeds are encrypted at rest (AES-256-GCM under the ``staff-totp`` purpose key) and bound to
the staff member and the column they sit in. The time always comes from the injected clock.

Replay protection: the newest accepted step is stored on the staff member, and a code is
accepted only for a step strictly newer than it, through a conditional UPDATE, so two
requests racing with one code cannot both win.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, cast

import pyotp
import segno
from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from auth.staff.models import StaffMember
from core.crypto import Binding, KeyRing, constant_time_equals, open_with_key, seal_with_key

ISSUER = "Lantern"
DIGITS = 6
INTERVAL = 30
# At most one step either side of now: a phone whose clock is up to ~30 s off still works.
DRIFT_STEPS = 1
KEY_PURPOSE = "staff-totp"
ACTIVE_COLUMN = "totp_secret_enc"
PENDING_COLUMN = "totp_pending_enc"


@dataclass(frozen=True, slots=True)
class Provisioning:
    """What an authenticator app needs to enrol: shown once, to the staff member."""

    otpauth_uri: str
    qr_svg: str


def new_seed() -> str:
    """A fresh 160-bit seed, base32 (what authenticator apps expect)."""
    return pyotp.random_base32()


def _binding(staff_id: uuid.UUID, column: str) -> Binding:
    return Binding("staff_members", column, staff_id)


def seal_seed(keyring: KeyRing, staff_id: uuid.UUID, seed: str, *, column: str) -> bytes:
    return seal_with_key(
        keyring.purpose_key(KEY_PURPOSE), _binding(staff_id, column), seed.encode("ascii")
    )


def open_seed(keyring: KeyRing, staff_id: uuid.UUID, sealed: bytes, *, column: str) -> str:
    return open_with_key(
        keyring.purpose_key(KEY_PURPOSE), _binding(staff_id, column), sealed
    ).decode("ascii")


def provisioning(seed: str, account_name: str) -> Provisioning:
    """The otpauth:// URI and the same URI as an inline SVG QR code."""
    uri = pyotp.TOTP(seed, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )
    svg = segno.make(uri, error="m").svg_inline(scale=4, title="Authenticator enrolment code")
    return Provisioning(otpauth_uri=uri, qr_svg=svg)


def step_at(now: dt.datetime) -> int:
    return int(now.timestamp()) // INTERVAL


def _normalise(code: str) -> str | None:
    code = code.replace(" ", "").replace("-", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    return code


def matching_step(seed: str, code: str, now: dt.datetime) -> int | None:
    """The step among now-1, now, now+1 whose code is ``code``, or None."""
    normalised = _normalise(code)
    if normalised is None:
        return None
    totp = pyotp.TOTP(seed, digits=DIGITS, interval=INTERVAL)
    current = step_at(now)
    found: int | None = None
    # Every candidate is compared (constant work); the newest match wins.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if constant_time_equals(totp.generate_otp(step), normalised):
            found = step
    return found


def claim_step(session: Session, member: StaffMember, step: int) -> bool:
    """Record ``step`` as used, only if it is newer than every step used before."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(StaffMember)
            .where(
                StaffMember.id == member.id,
                or_(StaffMember.totp_last_step.is_(None), StaffMember.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return False
    # The loaded object learns the new value without a second UPDATE.
    set_committed_value(member, "totp_last_step", step)
    return True


def verify_code(
    session: Session, keyring: KeyRing, member: StaffMember, code: str, now: dt.datetime
) -> bool:
    """True once for a valid code of the member's enrolled seed; a replay (that step or any
    older one) is refused."""
    if member.totp_secret_enc is None or member.totp_enrolled_at is None:
        return False
    seed = open_seed(keyring, member.id, member.totp_secret_enc, column=ACTIVE_COLUMN)
    step = matching_step(seed, code, now)
    if step is None:
        return False
    return claim_step(session, member, step)
