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
from core.runtime import Runtime
from core.vault import Vault
from messaging.checkins import replies, timers
from messaging.checkins.ports import CheckinSms, SmsUnavailable
from messaging.sms import sending

CHECK_IN = "check_in"
ADVOCATE_ALERT = "advocate_alert"


@dataclass
class OutboxSms:
    """``CheckinSms`` over the SMS outbox: rows and jobs in the caller's transaction."""

    vault: Vault

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
        )
        if row is None:
            raise SmsUnavailable("no_phone")
        # An opted-out number is known now: do not wait for the send job to find out.
        if sending.is_opted_out(session, row.to_index):
            raise SmsUnavailable("opted_out")
        return row.id

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
    sms: CheckinSms = OutboxSms(runtime.vault)
    ext["checkin_sms"] = sms
    ring: KeyRing = runtime.keyring

    def on_failure(
        session: Session,
        clock: Clock,
        _outbound_id: uuid.UUID,
        purpose: str,
        reference_id: uuid.UUID | None,
    ) -> None:
        if purpose == CHECK_IN and reference_id is not None:
            timers.on_sms_failure(session, clock, sms, reference_id, "undelivered")

    def route(session: Session, clock: Clock, survivor_id: uuid.UUID, body: str) -> bool:
        return replies.route_sms_reply(session, clock, ring, sms, survivor_id, body)

    ext.setdefault("sms_failure_listeners", []).append(on_failure)
    ext.setdefault("inbound_sms_routers", []).append(route)
    ext.setdefault("duress_listeners", []).append(timers.duress_listener)
