"""Job handlers for check-ins: generate ahead, send when due, escalate when grace ends."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.jobs import JobContext, JobRegistry
from core.runtime import Runtime
from messaging.checkins import states
from messaging.checkins.escalation import PARTNER_JOB, escalate, partner_step
from messaging.checkins.models import CheckinOccurrence, CheckinSchedule
from messaging.checkins.occurrences import (
    GENERATE_JOB,
    GENERATE_ONE_JOB,
    GRACE_JOB,
    SEND_JOB,
    generate,
    generate_for,
    lock_occurrence,
    transition,
)
from messaging.checkins.ports import CheckinSms, SmsUnavailable, WelfareAlerts
from messaging.checkins.setup import sms_text

SYSTEM = audit.Actor.system()


def _sms(ctx: JobContext) -> CheckinSms | None:
    sms: CheckinSms | None = ctx.deps.get("checkin_sms")
    return sms


def send_due(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one occurrence's SMS (or open it in the app). A stale timer does nothing."""
    session, clock = ctx.session, ctx.clock
    occ = lock_occurrence(session, uuid.UUID(payload["occurrence_id"]))
    if occ is None or occ.state != states.SCHEDULED:
        return
    if occ.send_at.isoformat() != payload["send_at"]:
        return  # snoozed: a newer timer serves the new time
    schedule = session.get(CheckinSchedule, occ.schedule_id)
    if schedule is None or not schedule.active:
        occ.state = states.CANCELLED
        return
    occ.sent_at = clock.now()
    if occ.channel == "app":
        transition(session, clock, occ, states.SENT, SYSTEM, channel="app")
        return
    sms = _sms(ctx)
    try:
        if sms is None:
            raise SmsUnavailable("no_gateway")
        occ.outbound_sms_id = sms.to_survivor(
            session,
            clock,
            occ.survivor_id,
            sms_text(session, ctx.deps["vault"], schedule),
            reference_id=occ.id,
        )
    except SmsUnavailable as exc:
        sms_failed(session, clock, sms, occ, exc.reason)
        return
    transition(session, clock, occ, states.SENT, SYSTEM, channel="sms")


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


def grace_over(ctx: JobContext, payload: dict[str, Any]) -> None:
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
    escalate(session, clock, _sms(ctx), occ.survivor_id, "missed", occ)


def partner(ctx: JobContext, payload: dict[str, Any]) -> None:
    welfare: WelfareAlerts | None = ctx.deps.get("welfare_alerts")
    partner_step(ctx.session, ctx.clock, welfare, uuid.UUID(payload["escalation_id"]))


def generate_ahead(ctx: JobContext, _payload: dict[str, Any]) -> None:
    generate(ctx.session, ctx.clock, ctx.deps["vault"])


def generate_one(ctx: JobContext, payload: dict[str, Any]) -> None:
    schedule = ctx.session.get(CheckinSchedule, uuid.UUID(payload["schedule_id"]))
    if schedule is not None and schedule.active:
        generate_for(ctx.session, ctx.clock, ctx.deps["vault"], schedule)


def duress_listener(ctx: JobContext, survivor_id: uuid.UUID) -> None:
    """A duress login escalates like a help reply (the duress job calls this)."""
    escalate(ctx.session, ctx.clock, _sms(ctx), survivor_id, "duress")


def register_jobs(registry: JobRegistry, runtime: Runtime) -> None:
    runtime.extensions.setdefault("vault", runtime.vault)
    registry.register(SEND_JOB, send_due, max_attempts=5)
    registry.register(GRACE_JOB, grace_over, max_attempts=20)
    registry.register(PARTNER_JOB, partner, max_attempts=20)
    registry.register(GENERATE_JOB, generate_ahead, every_seconds=300)
    registry.register(GENERATE_ONE_JOB, generate_one, max_attempts=10)
