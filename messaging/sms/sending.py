"""Outbound SMS: an outbox row written in the caller's transaction, sent by a durable job.

``queue_sms`` is the only way to send an SMS: it seals the number and the text, writes an
``outbound_sms`` row and enqueues ``sms.send`` in the caller's transaction, so a message is
sent only once the change that caused it commits (or, with ``send_job=False``, the job at
hand sends it itself: ``dispatch.py``). Sending retries transient failures with backoff,
records permanent ones at once, never sends to an opted-out number, and never sends a text
twice (``dispatch.py``).

The SMS failure hook (check-ins listen). When a message whose purpose is in
``FAILURE_HOOK_PURPOSES`` fails for good (permanent error, retries exhausted, opted out, or a
``failed``/``undelivered`` status callback), every ``SmsFailureListener`` on
``SmsDeps.failure_listeners`` is called as
``listener(session, clock, outbound_sms_id, purpose, reference_id)`` inside the transaction
that records the failure; it must not commit, and whatever it writes commits with it. It is
called once per message (the failure is recorded before, and a final message never fails
again).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core import crypto, jobs
from core.clock import Clock
from core.crypto import Binding, decoy_phone_index, phone_index
from core.ids import new_id
from core.vault import Vault
from messaging.models import OutboundSms, SmsPhoneState, SmsStatusEvent
from messaging.phone import survivor_phone
from messaging.sms.deps import SmsDeps

log = logging.getLogger(__name__)

SEND_JOB = "sms.send"
REDACT_JOB = "sms.redact"
SEND_MAX_ATTEMPTS = 8
PURPOSES = ("conversation", "check_in", "advocate_alert")
FAILURE_HOOK_PURPOSES = frozenset({"check_in", "advocate_alert"})
#: All a decoy account is ever texted: its own check-ins (``auth.survivors.decoys``).
DECOY_PURPOSES = frozenset({"check_in"})
MAX_BODY_CHARS = 1600  # Twilio's limit for one message
STATUS_PATH = "/v1/sms/status"

# Forward-only status machine: a status moves only to a higher rank; rank 4 is terminal.
QUEUED, SENDING, SENT, DELIVERED = "queued", "sending", "sent", "delivered"
FAILED, UNDELIVERED = "failed", "undelivered"
RANK = {QUEUED: 0, SENDING: 1, SENT: 2, DELIVERED: 3, FAILED: 4, UNDELIVERED: 4}
FINAL = frozenset({DELIVERED, FAILED, UNDELIVERED})

STAFF_KEY_PURPOSE = "staff-phone"


def staff_binding(row_id: uuid.UUID, column: str, staff_id: uuid.UUID) -> Binding:
    """Where a text to a staff member belongs (under the ``staff-phone`` purpose key)."""
    return Binding("outbound_sms", column, row_id, staff_id)


def queue_sms(
    session: Session,
    clock: Clock,
    vault: Vault,
    *,
    to_e164: str,
    body: str,
    purpose: str,
    reference_id: uuid.UUID | None = None,
    survivor_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    run_at: dt.datetime | None = None,
    send_job: bool = True,
) -> OutboundSms:
    """Write an outbox row and its ``sms.send`` job in the caller's transaction.

    With ``send_job=False`` the caller sends it itself (``dispatch.dispatch_many``) from the
    job at hand, which queues the ``sms.send`` job only if the text must be tried again.

    ``to_e164`` must already be normalized; the text must already be neutral (it never names
    the service, an advocate or abuse). Survivor messages are sealed with the survivor's data
    key; messages to staff with AEAD under the ``staff-phone`` purpose key.
    """
    if (survivor_id is None) == (staff_id is None):
        raise ValueError("an SMS belongs to exactly one survivor or one staff member")
    if purpose not in PURPOSES:
        raise ValueError(f"unknown SMS purpose {purpose!r}")
    if not body or len(body) > MAX_BODY_CHARS:
        raise ValueError("an SMS body must have 1-1600 characters")
    row_id = new_id()
    if survivor_id is not None:
        to_enc = vault.seal(
            session, Binding("outbound_sms", "to_enc", row_id, survivor_id), to_e164
        )
        body_enc = vault.seal(
            session, Binding("outbound_sms", "body_enc", row_id, survivor_id), body
        )
    else:
        assert staff_id is not None
        key = vault.ring.purpose_key(STAFF_KEY_PURPOSE)
        to_enc = crypto.seal_with_key(
            key, staff_binding(row_id, "to_enc", staff_id), to_e164.encode()
        )
        body_enc = crypto.seal_with_key(
            key, staff_binding(row_id, "body_enc", staff_id), body.encode()
        )
    row = OutboundSms(
        id=row_id,
        survivor_id=survivor_id,
        staff_id=staff_id,
        to_enc=to_enc,
        # The number's own index, whoever the text is for (a decoy's included): what the
        # opt-out mirror is keyed by, so a number that sent STOP is texted by nobody.
        to_index=phone_index(vault.ring, to_e164),
        body_enc=body_enc,
        purpose=purpose,
        reference_id=reference_id,
        status=QUEUED,
        created_at=clock.now(),
    )
    session.add(row)
    if send_job:
        session.flush()
        enqueue_send(session, clock, row_id, run_at)
    return row


def enqueue_send(
    session: Session, clock: Clock, row_id: uuid.UUID, run_at: dt.datetime | None = None
) -> None:
    jobs.enqueue(
        session,
        clock,
        SEND_JOB,
        {"outbound_sms_id": str(row_id)},
        run_at=run_at,
        max_attempts=SEND_MAX_ATTEMPTS,
        dedupe_key=f"{SEND_JOB}:{row_id}",
    )


def queue_survivor_sms(
    session: Session,
    clock: Clock,
    vault: Vault,
    survivor_id: uuid.UUID,
    *,
    body: str,
    purpose: str,
    reference_id: uuid.UUID | None = None,
    run_at: dt.datetime | None = None,
    send_job: bool = True,
) -> OutboundSms | None:
    """Queue an SMS to the survivor's own number; None when they have none or are erased.

    A decoy account is texted its own check-ins, as a real account is, and nothing else (never
    a conversation reply): ``auth.survivors.decoys``.
    """
    survivor = session.get(Survivor, survivor_id)
    if survivor is None or survivor.erased_at is not None:
        return None
    decoy = survivor.decoy_of is not None
    if decoy and purpose not in DECOY_PURPOSES:
        return None
    to = survivor_phone(session, vault, survivor)
    if to is None:
        return None
    if decoy and survivor.decoy_phone_index is None:
        # A number set before decoys had an index of their own: its replies must find it.
        survivor.decoy_phone_index = decoy_phone_index(vault.ring, to)
    return queue_sms(
        session,
        clock,
        vault,
        to_e164=to,
        body=body,
        purpose=purpose,
        reference_id=reference_id,
        survivor_id=survivor_id,
        run_at=run_at,
        send_job=send_job,
    )


def opted_out(session: Session, indexes: Iterable[str]) -> set[str]:
    """Which of these numbers (by blind index) have opted out, in one query."""
    wanted = set(indexes)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(SmsPhoneState.phone_index).where(
                SmsPhoneState.phone_index.in_(wanted), SmsPhoneState.opted_out.is_(True)
            )
        )
    )


def is_opted_out(session: Session, index: str) -> bool:
    return index in opted_out(session, [index])


def set_opt_out(session: Session, clock: Clock, index: str, opted_out: bool) -> bool:
    """Mirror STOP/START; returns True when the state changed."""
    state = session.scalars(
        select(SmsPhoneState).where(SmsPhoneState.phone_index == index)
    ).one_or_none()
    if state is None:
        session.add(
            SmsPhoneState(
                id=new_id(), phone_index=index, opted_out=opted_out, changed_at=clock.now()
            )
        )
        session.flush()
        return opted_out
    if state.opted_out == opted_out:
        return False
    state.opted_out = opted_out
    state.changed_at = clock.now()
    session.flush()
    return True


def call_failure_listeners(session: Session, clock: Clock, deps: SmsDeps, row: OutboundSms) -> None:
    if row.purpose not in FAILURE_HOOK_PURPOSES:
        return
    for listener in deps.failure_listeners:
        listener(session, clock, row.id, row.purpose, row.reference_id)


def advance_status(
    session: Session,
    clock: Clock,
    deps: SmsDeps,
    row: OutboundSms,
    status: str,
    reason: str | None = None,
) -> bool:
    """Move ``row`` forward to ``status`` (never back, never out of a final state).

    Returns True when it moved. Side effects of reaching a state happen exactly once: a
    failure calls the failure listeners, a delivery schedules redaction and drops the text.
    """
    if status not in RANK or row.status in FINAL or RANK[status] <= RANK[row.status]:
        return False
    row.status = status
    row.status_at = clock.now()
    if status in FINAL:
        row.body_enc = None  # the provider has it or never will; we need it no more
    if status in (FAILED, UNDELIVERED):
        row.failure_reason = (reason or status)[:64]
        session.flush()
        log.warning(
            "sms failed",
            extra={
                "event": "sms_failed",
                "outbound_sms_id": str(row.id),
                "purpose": row.purpose,
                "reason": row.failure_reason,
            },
        )
        call_failure_listeners(session, clock, deps, row)
    elif status == DELIVERED and row.provider_sid and deps.redact:
        jobs.enqueue(
            session,
            clock,
            REDACT_JOB,
            {"outbound_sms_id": str(row.id)},
            dedupe_key=f"{REDACT_JOB}:{row.id}",
        )
    session.flush()
    return True


def apply_early_statuses(
    session: Session, clock: Clock, deps: SmsDeps, rows: Iterable[OutboundSms]
) -> None:
    """Apply status callbacks that arrived before the SIDs were recorded, then drop them."""
    by_sid = {row.provider_sid: row for row in rows if row.provider_sid}
    if not by_sid:
        return
    events = list(
        session.scalars(
            select(SmsStatusEvent)
            .where(SmsStatusEvent.provider_sid.in_(list(by_sid)))
            .order_by(SmsStatusEvent.received_at)
        )
    )
    for event in events:
        advance_status(session, clock, deps, by_sid[event.provider_sid], event.status, event.reason)
        session.delete(event)
    session.flush()


def prune_status_events(session: Session, clock: Clock) -> int:
    """Drop early status callbacks no send ever claimed (not ours, or long gone)."""
    result = session.execute(
        delete(SmsStatusEvent)
        .where(SmsStatusEvent.received_at < clock.now() - dt.timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
