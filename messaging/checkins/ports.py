"""What check-ins need from the rest of Lantern, as small interfaces.

The registry (api/registry.py) binds them to the SMS gateway's outbox and to the coordination
alert API; tests bind recording fakes. Check-ins keep working on their own when the partner
step is not bound: advocates are still alerted.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.orm import Session

from core.clock import Clock


class SmsUnavailable(Exception):
    """The survivor cannot be texted now (no number, opted out): escalate as missed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CheckinSms(Protocol):
    def to_survivor(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        body: str,
        *,
        reference_id: uuid.UUID,
    ) -> uuid.UUID:
        """Queue an SMS (sent by a durable job); raise SmsUnavailable when it cannot go."""
        ...

    def to_staff(
        self,
        session: Session,
        clock: Clock,
        staff_id: uuid.UUID,
        body: str,
        *,
        reference_id: uuid.UUID,
    ) -> uuid.UUID | None:
        """Queue an SMS to a staff member's on-duty phone; None when they have none."""
        ...


class WelfareAlerts(Protocol):
    def __call__(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        escalation_id: uuid.UUID,
        agency_id: uuid.UUID | None,
    ) -> str:
        """Ask consented partner agencies for a welfare check; returns an outcome word
        (e.g. "alerted", "no_consent")."""
        ...
