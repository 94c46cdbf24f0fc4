"""Escalation: a help reply, a missed check-in, an unsendable check-in or a duress login reaches
a person. First the survivor's advocates (console queue, plus SMS to on-duty advocates who set
a phone); then, if nobody acknowledges within the survivor's second window, a welfare-check
request to the consented partner agency.

A decoy account escalates to nobody (``auth.survivors.decoys``), yet must read back as a real
account whose escalation nobody acknowledged (a night, a weekend): its check-in shows escalated, and
at the end of the second window its disclosure log gains the welfare check its consented
agency would have been sent (``decoy_partner_step``), with no escalation, alert or text.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from auth.access.permissions import advocates_of
from auth.staff.models import StaffMember
from auth.survivors import decoys
from core import audit, jobs
from core.clock import Clock
from core.crypto import Binding
from core.errors import Conflict, NotFound
from core.ids import new_id
from core.notices import notify_staff
from core.vault import Vault
from messaging.checkins import states
from messaging.checkins.deps import CheckinSms, DecoyWelfareChecks, WelfareAlerts
from messaging.checkins.models import CheckinOccurrence, CheckinSettings, Escalation

PARTNER_JOB = "checkins.partner_step"
DECOY_PARTNER_JOB = "checkins.decoy_partner_step"
URGENCY = {"duress": 3, "help_reply": 3, "missed": 2, "send_failed": 2}
# What an on-duty advocate's phone shows: enough to act, nothing about the survivor.
STAFF_SMS = "Urgent: a new alert is waiting in your console."
OPEN = (states.ESCALATED, states.ACKNOWLEDGED)


def escalate(
    session: Session,
    clock: Clock,
    sms: CheckinSms | None,
    survivor_id: uuid.UUID,
    source: str,
    occurrence: CheckinOccurrence | None = None,
) -> Escalation | None:
    """Open an escalation (idempotent per occurrence) and alert the advocates at once.

    None for a decoy account: its check-ins come due, are answered and missed like any, but
    reach nobody (``auth.survivors.decoys``); the real owner's advocates already had the duress
    alert.
    """
    if decoys.is_decoy_account(session, survivor_id):
        _as_if_escalated(session, clock, survivor_id, occurrence)
        return None
    if occurrence is not None and occurrence.escalation_id is not None:
        existing = session.get(Escalation, occurrence.escalation_id)
        if existing is not None:
            return existing
    now = clock.now()
    window = _second_window(session, survivor_id)
    esc = Escalation(
        id=new_id(),
        survivor_id=survivor_id,
        source=source,
        urgency=URGENCY[source],
        state=states.ESCALATED,
        occurrence_id=occurrence.id if occurrence else None,
        created_at=now,
        partner_due_at=now + window,
    )
    session.add(esc)
    session.flush()
    if occurrence is not None:
        occurrence.escalation_id = esc.id
        occurrence.state = states.ESCALATED
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "checkin.escalated",
        subject_kind="escalation",
        subject_id=esc.id,
        survivor_id=survivor_id,
        details={"source": source},
    )
    advocates = advocates_of(session, survivor_id)
    notify_staff(
        session,
        clock,
        advocates,
        f"escalation.{source}",
        urgency="urgent",
        survivor_id=survivor_id,
        details={"escalation_id": str(esc.id)},
    )
    if sms is not None:
        on_duty = session.scalars(
            select(StaffMember.id).where(
                StaffMember.id.in_(advocates), StaffMember.on_duty.is_(True)
            )
        ).all()
        for staff_id in on_duty:
            sms.to_staff(session, clock, staff_id, STAFF_SMS, reference_id=esc.id)
    jobs.enqueue(
        session,
        clock,
        PARTNER_JOB,
        {"escalation_id": str(esc.id)},
        run_at=esc.partner_due_at,
        dedupe_key=f"{PARTNER_JOB}:{esc.id}",
        max_attempts=20,
    )
    return esc


def _second_window(session: Session, survivor_id: uuid.UUID) -> dt.timedelta:
    settings = session.get(CheckinSettings, survivor_id)
    return dt.timedelta(minutes=settings.second_window_minutes if settings else 30)


def _as_if_escalated(
    session: Session, clock: Clock, survivor_id: uuid.UUID, occurrence: CheckinOccurrence | None
) -> None:
    """A decoy's escalation: the state a real check-in shows, and the partner step's timer.
    Nobody can acknowledge it, so that step always comes; one per check-in, as a real
    escalation is one per occurrence."""
    cause_id = occurrence.id if occurrence is not None else new_id()
    if occurrence is not None:
        occurrence.state = states.ESCALATED
    jobs.enqueue(
        session,
        clock,
        DECOY_PARTNER_JOB,
        {"survivor_id": str(survivor_id), "cause_id": str(cause_id)},
        run_at=clock.now() + _second_window(session, survivor_id),
        dedupe_key=f"{DECOY_PARTNER_JOB}:{cause_id}",
        max_attempts=20,
    )


def decoy_partner_step(
    session: Session,
    clock: Clock,
    checks: DecoyWelfareChecks | None,
    survivor_id: uuid.UUID,
    cause_id: uuid.UUID,
) -> None:
    """The decoy's end of the second window: its disclosure log gains what a real account's
    welfare check would write there (``partner_step``), and no agency hears anything."""
    if checks is None or not decoys.is_decoy_account(session, survivor_id):
        return
    settings = session.get(CheckinSettings, survivor_id)
    checks(session, clock, survivor_id, cause_id, settings.welfare_agency_id if settings else None)


def partner_step(
    session: Session, clock: Clock, welfare: WelfareAlerts | None, escalation_id: uuid.UUID
) -> str:
    """At the end of the second window: ask the consented agency if no advocate acknowledged."""
    esc = session.get(Escalation, escalation_id)
    if esc is None or esc.partner_alerted_at is not None:
        return "done"
    if esc.state != states.ESCALATED:
        esc.partner_outcome = "acknowledged_in_time"
        return esc.partner_outcome
    settings = session.get(CheckinSettings, esc.survivor_id)
    outcome = "not_connected"
    if welfare is not None:
        outcome = welfare(
            session,
            clock,
            esc.survivor_id,
            esc.id,
            settings.welfare_agency_id if settings else None,
        )
    esc.partner_alerted_at = clock.now()
    esc.partner_outcome = outcome
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "checkin.partner_step",
        subject_kind="escalation",
        subject_id=esc.id,
        survivor_id=esc.survivor_id,
        details={"outcome": outcome},
    )
    return outcome


def _load_open(session: Session, escalation_id: uuid.UUID, caseload: list[uuid.UUID]) -> Escalation:
    esc = session.get(Escalation, escalation_id)
    if esc is None or esc.survivor_id not in caseload:
        raise NotFound()
    return esc


def acknowledge(
    session: Session,
    clock: Clock,
    actor: audit.Actor,
    caseload: list[uuid.UUID],
    escalation_id: uuid.UUID,
) -> Escalation:
    esc = _load_open(session, escalation_id, caseload)
    if esc.state == states.ACKNOWLEDGED:
        return esc  # idempotent
    if esc.state != states.ESCALATED:
        raise Conflict("This alert is already resolved.")
    esc.state, esc.acknowledged_by, esc.acknowledged_at = states.ACKNOWLEDGED, actor.id, clock.now()
    _mirror(session, esc)
    audit.record(
        session,
        clock,
        actor,
        "escalation.acknowledged",
        subject_kind="escalation",
        subject_id=esc.id,
        survivor_id=esc.survivor_id,
    )
    return esc


def resolve(
    session: Session,
    clock: Clock,
    vault: Vault,
    actor: audit.Actor,
    caseload: list[uuid.UUID],
    escalation_id: uuid.UUID,
    note: str,
) -> Escalation:
    esc = _load_open(session, escalation_id, caseload)
    if esc.state == states.RESOLVED:
        return esc
    esc.resolution_note_enc = vault.seal(
        session, Binding("escalations", "resolution_note_enc", esc.id, esc.survivor_id), note
    )
    if esc.acknowledged_at is None:
        esc.acknowledged_by, esc.acknowledged_at = actor.id, clock.now()
    esc.state, esc.resolved_by, esc.resolved_at = states.RESOLVED, actor.id, clock.now()
    _mirror(session, esc)
    audit.record(
        session,
        clock,
        actor,
        "escalation.resolved",
        subject_kind="escalation",
        subject_id=esc.id,
        survivor_id=esc.survivor_id,
    )
    return esc


def _mirror(session: Session, esc: Escalation) -> None:
    """Keep the occurrence's state in step with its escalation (forward only)."""
    if esc.occurrence_id is None:
        return
    occ = session.get(CheckinOccurrence, esc.occurrence_id)
    if occ is None:
        return
    if esc.state in states.TRANSITIONS.get(occ.state, frozenset()):
        occ.state = esc.state


def queue(
    session: Session, caseload: list[uuid.UUID], *, include_resolved: bool = False
) -> list[Escalation]:
    """The advocate's escalation queue: open first, most urgent first, oldest first."""
    stmt = select(Escalation).where(Escalation.survivor_id.in_(caseload))
    if not include_resolved:
        stmt = stmt.where(Escalation.state.in_(OPEN))
    unacked_first = case((Escalation.state == states.ESCALATED, 0), else_=1)
    return list(
        session.scalars(
            stmt.order_by(unacked_first, Escalation.urgency.desc(), Escalation.created_at).limit(
                200
            )
        )
    )


@dataclass(frozen=True, slots=True)
class EscalationView:
    """An escalation as the console shows it, its resolution note opened."""

    id: uuid.UUID
    survivor_id: uuid.UUID
    source: str
    urgency: int
    state: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    partner_outcome: str | None
    late_reply_at: dt.datetime | None
    resolution_note: str | None


def view(esc: Escalation, session: Session, vault: Vault) -> EscalationView:
    note = None
    if esc.resolution_note_enc is not None:
        note = vault.open_text(
            session,
            Binding("escalations", "resolution_note_enc", esc.id, esc.survivor_id),
            esc.resolution_note_enc,
        )
    return EscalationView(
        id=esc.id,
        survivor_id=esc.survivor_id,
        source=esc.source,
        urgency=esc.urgency,
        state=esc.state,
        created_at=esc.created_at,
        acknowledged_at=esc.acknowledged_at,
        resolved_at=esc.resolved_at,
        partner_outcome=esc.partner_outcome,
        late_reply_at=esc.late_reply_at,
        resolution_note=note,
    )
