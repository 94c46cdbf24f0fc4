"""A staff member's on-duty phone: where an urgent escalation is also texted.

Stored encrypted (AES-GCM under the ``staff-phone`` purpose key, bound to the member), never
returned in full: the console shows only the last two digits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from auth.principals import StaffPrincipal
from auth.staff.models import StaffMember
from core import audit, crypto
from core.clock import Clock
from core.crypto import KeyRing

PURPOSE = "staff-phone"


def _binding(member: StaffMember) -> crypto.Binding:
    return crypto.Binding("staff_members", "phone_enc", member.id)


def staff_phone(ring: KeyRing, member: StaffMember) -> str | None:
    if member.phone_enc is None:
        return None
    return crypto.open_with_key(
        ring.purpose_key(PURPOSE), _binding(member), member.phone_enc
    ).decode()


def masked(ring: KeyRing, member: StaffMember) -> str | None:
    phone = staff_phone(ring, member)
    return None if phone is None else "*" * (len(phone) - 2) + phone[-2:]


def set_duty(
    session: Session,
    clock: Clock,
    ring: KeyRing,
    principal: StaffPrincipal,
    *,
    phone: str | None,
    clear_phone: bool,
    on_duty: bool | None,
) -> StaffMember:
    """Set or clear my on-duty phone (E.164 after parsing) and whether I am on duty."""
    member = session.get(StaffMember, principal.staff_id)
    assert member is not None  # the principal was authenticated against this row
    if clear_phone:
        member.phone_enc = None
    elif phone is not None:
        e164 = crypto.normalize_phone(phone)
        member.phone_enc = crypto.seal_with_key(
            ring.purpose_key(PURPOSE), _binding(member), e164.encode()
        )
    if on_duty is not None:
        member.on_duty = on_duty
    audit.record(
        session,
        clock,
        principal.actor,
        "staff.duty_changed",
        subject_kind="staff_member",
        subject_id=member.id,
        details={"on_duty": member.on_duty, "phone_set": member.phone_enc is not None},
    )
    return member
