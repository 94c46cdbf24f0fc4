"""How check-ins plug into a process: the SMS outbox as their ``CheckinSms`` port, and their
listeners on the SMS failure hooks, the inbound SMS routers and the duress job."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from auth.models import StaffMember
from auth.staff_phone import staff_phone
from core.clock import Clock
from core.crypto import KeyRing
from core.jobs import JobContext
from core.runtime import Runtime
from core.vault import Vault
from messaging.checkins import replies, timers
from messaging.checkins.ports import CheckinSms, SmsUnavailable
from messaging.models import OutboundSms
from messaging.sms import dispatch as sms_dispatch
from messaging.sms import sending

CHECK_IN = "check_in"
ADVOCATE_ALERT = "advocate_alert"


@dataclass
class OutboxSms:
    """``CheckinSms`` over the SMS outbox: rows and jobs in the caller's transaction."""

    vault: Vault
    public_base_url: str = ""

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
            self.vault,
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
        sms_dispatch.dispatch(
            ctx, outbound_ids, vault=self.vault, public_base_url=self.public_base_url
        )

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
        to = staff_phone(self.vault.ring, member)
        if to is None:
            return None
        row = sending.queue_sms(
            session,
            clock,
            self.vault,
            to_e164=to,
            body=body,
            purpose=ADVOCATE_ALERT,
            reference_id=reference_id,
            staff_id=staff_id,
        )
        return row.id


def install(runtime: Runtime) -> None:
    """Bind check-ins into the runtime's extensions (idempotent)."""
    ext = runtime.extensions
    if isinstance(ext.get("checkin_sms"), OutboxSms):
        return
    sms: CheckinSms = OutboxSms(runtime.vault, runtime.settings.public_base_url)
    ext["checkin_sms"] = sms
    ring: KeyRing = runtime.keyring

    def on_failure(
        session: Session,
        clock: Clock,
        outbound_id: uuid.UUID,
        purpose: str,
        reference_id: uuid.UUID | None,
    ) -> None:
        if purpose != CHECK_IN or reference_id is None:
            return
        row = session.get(OutboundSms, outbound_id)
        reason = (row.failure_reason if row is not None else None) or "undelivered"
        if reason == sms_dispatch.OUTCOME_UNKNOWN:
            # The text may well have arrived: the grace timer, not a false alarm, decides.
            return
        timers.on_sms_failure(session, clock, sms, reference_id, reason)

    def route(session: Session, clock: Clock, survivor_id: uuid.UUID, body: str) -> bool:
        return replies.route_sms_reply(session, clock, ring, sms, survivor_id, body)

    def claim(session: Session, survivor_id: uuid.UUID, body: str) -> str | None:
        return replies.claim_sms_reply(session, ring, survivor_id, body)

    ext.setdefault("sms_failure_listeners", []).append(on_failure)
    ext.setdefault("inbound_sms_routers", []).append(route)
    ext.setdefault("inbound_sms_claims", []).append(claim)
    ext.setdefault("duress_listeners", []).append(timers.duress_listener)
