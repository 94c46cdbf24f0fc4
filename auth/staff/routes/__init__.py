"""The staff routes: a member's own identity (``own``), an admin's management of staff
(``admin``), and the notice inbox (``notices``)."""

from __future__ import annotations

import uuid
from typing import TypedDict

from auth.staff.models import StaffMember


class StaffSummary(TypedDict):
    """An account as ``StaffSummarySchema`` shows it: never a credential."""

    id: uuid.UUID
    email: str
    display_name: str
    role: str
    enrolled: bool
    disabled: bool


def summary(member: StaffMember) -> StaffSummary:
    """What the console shows of an account, to its owner or to an admin."""
    return {
        "id": member.id,
        "email": member.email,
        "display_name": member.display_name,
        "role": member.role,
        "enrolled": member.totp_enrolled_at is not None,
        "disabled": member.disabled_at is not None,
    }
