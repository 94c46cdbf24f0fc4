"""What check-ins need from the rest of Lantern, as small interfaces.

The composition root (api/wiring.py) binds them, in ``CheckinDeps``, to the SMS outbox
(``messaging.checkins.wiring.OutboxSms``) and to the coordination alert API; tests bind
recording fakes. Check-ins keep working on their own when the partner step is not bound:
advocates are still alerted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from core.clock import Clock
from core.jobs import JobContext
from core.vault import Vault


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
        """Queue an SMS for ``dispatch``; raise SmsUnavailable when it cannot go."""
        ...

    def dispatch(self, ctx: JobContext, outbound_ids: list[uuid.UUID]) -> None:
        """Send texts ``to_survivor`` queued, from the job at hand, now.

        Commits the job's work first (``JobContext.checkpoint``). A text that cannot go now
        is retried by the outbox; one that fails for good calls the SMS failure listeners.
        """
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


class DecoyWelfareChecks(Protocol):
    def __call__(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        cause_id: uuid.UUID,
        agency_id: uuid.UUID | None,
    ) -> None:
        """For a decoy account, when a real account's welfare check would be sent: write in its
        disclosure log what a delivered welfare check would, and tell no agency anything.
        ``cause_id`` names the missed check-in (or help reply): one check per cause."""
        ...


@dataclass(frozen=True)
class CheckinDeps:
    """What check-ins need besides a session and a clock: the vault and the ports above."""

    vault: Vault
    #: None: no text can go (a check-in by SMS is then missed, and escalates).
    sms: CheckinSms | None = None
    #: None: the partner step of an escalation is skipped (advocates are still alerted).
    welfare_alerts: WelfareAlerts | None = None
    decoy_welfare_checks: DecoyWelfareChecks | None = None
