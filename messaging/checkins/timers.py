"""Job handlers for check-ins: generate ahead, send when due, escalate when grace ends."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.jobs import JobContext
from messaging.checkins import states
from messaging.checkins.arrangements import sms_text
from messaging.checkins.deps import CheckinDeps, CheckinSms, SmsUnavailable
from messaging.checkins.escalation import (
    decoy_partner_step,
    escalate,
    partner_step,
)
from messaging.checkins.models import CheckinOccurrence, CheckinSchedule
from messaging.checkins.occurrences import (
    generate,
    generate_for,
    lock_occurrence,
    lock_occurrences,
    transition,
)

SYSTEM = audit.Actor.system()
SEND_BATCH = 50


def send_due(ctx: JobContext, payloads: list[dict[str, Any]], *, deps: CheckinDeps) -> None:
    """Send the occurrences these timers serve (one, or a batch of a burst) or open them in the
    app. A stale timer does nothing. The texts go out from this job, side by side."""
    session = ctx.session
    occurrences = lock_occurrences(session, [uuid.UUID(p["occurrence_id"]) for p in payloads])
    schedules = {
        s.id: s
        for s in session.scalars(
            select(CheckinSchedule).where(
                CheckinSchedule.id.in_({o.schedule_id for o in occurrences.values()})
            )
        )
    }
    sms = deps.sms
    # One query each for the survivors and their data keys, not one per check-in.
    survivor_ids = {o.survivor_id for o in occurrences.values()}
    session.scalars(select(Survivor).where(Survivor.id.in_(survivor_ids))).all()
    deps.vault.preload(session, survivor_ids)
    outbound: list[uuid.UUID] = []
    for payload in payloads:
        occ = occurrences.get(uuid.UUID(payload["occurrence_id"]))
        if occ is None or occ.send_at.isoformat() != payload["send_at"]:
            continue  # gone, or snoozed: a newer timer serves the new time
        if occ.state == states.SENT and occ.outbound_sms_id is not None:
            # An earlier try committed and died: finish its text (sent at most once).
            outbound.append(occ.outbound_sms_id)
        elif occ.state == states.SCHEDULED:
            sent = _send_one(ctx, deps, occ, schedules.get(occ.schedule_id))
            if sent is not None:
                outbound.append(sent)
    if outbound and sms is not None:
        # Commits the transitions first, so a worker that dies during the sends leaves the
        # occurrences sent and their grace timers running.
        sms.dispatch(ctx, outbound)


def _send_one(
    ctx: JobContext,
    deps: CheckinDeps,
    occ: CheckinOccurrence,
    schedule: CheckinSchedule | None,
) -> uuid.UUID | None:
    """Mark one due occurrence sent and queue its text; returns the text to dispatch."""
    session, clock, sms = ctx.session, ctx.clock, deps.sms
    if schedule is None or not schedule.active:
        occ.state = states.CANCELLED
        return None
    occ.sent_at = clock.now()
    if occ.channel == "app":
        transition(session, clock, occ, states.SENT, SYSTEM, channel="app")
        return None
    # A decoy account's check-in is texted to its own number like any (``auth.survivors.decoys``).
    try:
        if sms is None:
            raise SmsUnavailable("no_gateway")
        outbound_id = sms.to_survivor(
            session,
            clock,
            occ.survivor_id,
            sms_text(session, deps.vault, schedule),
            reference_id=occ.id,
        )
    except SmsUnavailable as exc:
        sms_failed(session, clock, sms, occ, exc.reason)
        return None
    occ.outbound_sms_id = outbound_id
    transition(session, clock, occ, states.SENT, SYSTEM, channel="sms")
    return outbound_id


def sms_failed(
    session: Session, clock: Clock, sms: CheckinSms | None, occ: CheckinOccurrence, reason: str
) -> None:
    """The text cannot reach the survivor: do not wait for a reply that cannot come."""
    if occ.state not in (states.SCHEDULED, states.SENT):
        return
    occ.send_failure = reason[:32]
    if occ.state == states.SCHEDULED:
        occ.state = states.SENT  # it was attempted; the machine records the miss from here
    transition(session, clock, occ, states.MISSED, SYSTEM, reason="send_failed")
    escalate(session, clock, sms, occ.survivor_id, "send_failed", occ)


def on_sms_failure(
    session: Session, clock: Clock, sms: CheckinSms | None, reference_id: uuid.UUID, reason: str
) -> None:
    """Called by the SMS outbox when a check-in text failed for good (or was undelivered)."""
    occ = lock_occurrence(session, reference_id)
    if occ is not None:
        sms_failed(session, clock, sms, occ, reason)


def grace_over(ctx: JobContext, payload: dict[str, Any], *, deps: CheckinDeps) -> None:
    """The dead-man timer: no answer by the end of the grace period means missed."""
    session, clock = ctx.session, ctx.clock
    occ = lock_occurrence(session, uuid.UUID(payload["occurrence_id"]))
    if occ is None or occ.state not in (states.SCHEDULED, states.SENT):
        return
    if occ.grace_ends_at.isoformat() != payload["grace_ends_at"]:
        return  # snoozed
    if occ.state == states.SCHEDULED:
        # Never sent (worker down, Twilio down): the survivor was not reached, so treat the
        # silence as a miss rather than wait for a text that may never leave.
        occ.state = states.SENT
        occ.send_failure = occ.send_failure or "not_sent"
    transition(session, clock, occ, states.MISSED, SYSTEM, reason="no_reply")
    escalate(session, clock, deps.sms, occ.survivor_id, "missed", occ)


def partner(ctx: JobContext, payload: dict[str, Any], *, deps: CheckinDeps) -> None:
    partner_step(ctx.session, ctx.clock, deps.welfare_alerts, uuid.UUID(payload["escalation_id"]))


def decoy_partner(ctx: JobContext, payload: dict[str, Any], *, deps: CheckinDeps) -> None:
    decoy_partner_step(
        ctx.session,
        ctx.clock,
        deps.decoy_welfare_checks,
        uuid.UUID(payload["survivor_id"]),
        uuid.UUID(payload["cause_id"]),
    )


def generate_ahead(ctx: JobContext, _payload: dict[str, Any], *, deps: CheckinDeps) -> None:
    generate(ctx.session, ctx.clock, deps.vault)


def generate_one(ctx: JobContext, payload: dict[str, Any], *, deps: CheckinDeps) -> None:
    schedule = ctx.session.get(CheckinSchedule, uuid.UUID(payload["schedule_id"]))
    if schedule is not None and schedule.active:
        generate_for(ctx.session, ctx.clock, deps.vault, schedule)
