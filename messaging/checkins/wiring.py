"""How check-ins plug into a process: the SMS outbox as their ``CheckinSms`` port, and their
listeners on the SMS failure hook, the inbound SMS hooks and the duress hook (registered by the
composition root, ``api/wiring.py``), and their timers' job kinds (``register_jobs``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from auth.staff.models import StaffMember
from auth.staff.phone import staff_phone
from core.clock import Clock
from core.crypto import KeyRing
from core.jobs import JobContext, JobRegistry
from messaging.checkins import replies, timers
from messaging.checkins.deps import CheckinDeps, SmsUnavailable
from messaging.checkins.escalation import DECOY_PARTNER_JOB, PARTNER_JOB, escalate
from messaging.checkins.occurrences import GENERATE_JOB, GENERATE_ONE_JOB, GRACE_JOB, SEND_JOB
from messaging.models import OutboundSms
from messaging.sms import dispatch as sms_dispatch
from messaging.sms import sending
from messaging.sms.deps import SmsDeps

CHECK_IN = "check_in"
ADVOCATE_ALERT = "advocate_alert"


@dataclass
class OutboxSms:
    """``CheckinSms`` over the SMS outbox: rows and jobs in the caller's transaction."""

    outbox: SmsDeps

    def to_survivor(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        body: str,
        *,
        reference_id: uuid.UUID,
    ) -> uuid.UUID:
        row = sending.queue_survivor_sms(
            session,
            clock,
            self.outbox.vault,
            survivor_id,
            body=body,
            purpose=CHECK_IN,
            reference_id=reference_id,
            send_job=False,  # ``dispatch`` sends it (and finds an opted-out number)
        )
        if row is None:
            raise SmsUnavailable("no_phone")
        return row.id

    def dispatch(self, ctx: JobContext, outbound_ids: list[uuid.UUID]) -> None:
        sms_dispatch.dispatch(ctx, outbound_ids, self.outbox)

    def to_staff(
        self,
        session: Session,
        clock: Clock,
        staff_id: uuid.UUID,
        body: str,
        *,
        reference_id: uuid.UUID,
    ) -> uuid.UUID | None:
        member = session.get(StaffMember, staff_id)
        if member is None or member.disabled_at is not None:
            return None
        to = staff_phone(self.outbox.vault.ring, member)
        if to is None:
            return None
        row = sending.queue_sms(
            session,
            clock,
            self.outbox.vault,
            to_e164=to,
            body=body,
            purpose=ADVOCATE_ALERT,
            reference_id=reference_id,
            staff_id=staff_id,
        )
        return row.id


#: The names check-ins' listeners are registered under (``api/wiring.py``). The duress name
#: is the one retries were queued under when listeners were found by their Python path; it is
#: only a name now (renaming a function changes nothing), kept so that those retries still run.
DURESS_LISTENER = "messaging.checkins.timers.duress_listener"
SMS_FAILURE_LISTENER = "checkins.sms_failed"
INBOUND_ROUTER = "checkins.reply"
INBOUND_CLAIM = "checkins.reply_code"


@dataclass(frozen=True)
class CheckinListeners:
    """What check-ins do when other domains call their hooks: a check-in text failed, a
    survivor texted a reply, a shared number's text is to be attributed, a duress login."""

    ring: KeyRing
    deps: CheckinDeps

    def sms_failed(
        self,
        session: Session,
        clock: Clock,
        outbound_id: uuid.UUID,
        purpose: str,
        reference_id: uuid.UUID | None,
        /,
    ) -> None:
        """``SmsFailureListener``: a check-in text that failed for good is a missed check-in."""
        if purpose != CHECK_IN or reference_id is None:
            return
        row = session.get(OutboundSms, outbound_id)
        reason = (row.failure_reason if row is not None else None) or "undelivered"
        if reason == sms_dispatch.OUTCOME_UNKNOWN:
            # The text may well have arrived: the grace timer, not a false alarm, decides.
            return
        timers.on_sms_failure(session, clock, self.deps.sms, reference_id, reason)

    def route_reply(
        self, session: Session, clock: Clock, survivor_id: uuid.UUID, body: str, /
    ) -> bool:
        """``InboundSmsRouter``: a reply code answers the survivor's check-in."""
        return replies.route_sms_reply(session, clock, self.ring, self.deps.sms, survivor_id, body)

    def claim_reply(self, session: Session, survivor_id: uuid.UUID, body: str, /) -> str | None:
        """``InboundSmsClaim``: what the text is when it is one of her own reply codes."""
        return replies.claim_sms_reply(session, self.ring, survivor_id, body)

    def duress(self, ctx: JobContext, survivor_id: uuid.UUID, /) -> None:
        """``DuressListener``: a duress login escalates like a help reply."""
        escalate(ctx.session, ctx.clock, self.deps.sms, survivor_id, "duress")


def register_jobs(registry: JobRegistry, deps: CheckinDeps) -> None:
    """The check-in timers, bound to the check-ins' vault and ports."""
    # A burst (every check-in due at 9:00) is sent fifty to a transaction: one query per
    # table instead of fifty, and the texts wait on Twilio side by side.
    registry.register_batch(
        SEND_JOB,
        partial(timers.send_due, deps=deps),
        batch_size=timers.SEND_BATCH,
        max_attempts=5,
    )
    registry.register(GRACE_JOB, partial(timers.grace_over, deps=deps), max_attempts=20)
    registry.register(PARTNER_JOB, partial(timers.partner, deps=deps), max_attempts=20)
    registry.register(DECOY_PARTNER_JOB, partial(timers.decoy_partner, deps=deps), max_attempts=20)
    registry.register(GENERATE_JOB, partial(timers.generate_ahead, deps=deps), every_seconds=300)
    registry.register(GENERATE_ONE_JOB, partial(timers.generate_one, deps=deps), max_attempts=10)
