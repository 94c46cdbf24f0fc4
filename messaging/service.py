"""What the survivor app and the staff console may do with a conversation.

Survivors reach only their own conversation; a duress (decoy) session reaches its decoy
account's own conversation (``auth.survivors.decoys``), which no staff member can read or answer.
Staff must be fully signed in, on the survivor's caseload (break-glass supervisors may read),
and have given a second-factor code within 15 minutes (step-up) to read or send: the views
check all that (``messaging.routes.common``) and pass the survivor's ``SurvivorAccess`` here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, advocates_of, caseload_of
from auth.principals import StaffPrincipal, SurvivorPrincipal
from core import audit
from core.clock import Clock
from core.notices import notify_staff
from core.pages import Page, Position
from core.vault import Vault
from messaging import conversations as conv
from messaging import phone
from messaging.checkins import arrangements as checkin_arrangements
from messaging.conversations import STAFF, SURVIVOR, MessageView, Reader
from messaging.sms.sending import queue_survivor_sms


@dataclass(frozen=True, slots=True)
class SurvivorMessage:
    """A message as the survivor's app shows it: from "me" or the "team", never which advocate."""

    id: uuid.UUID
    from_: str
    body: str
    sent_at: dt.datetime
    expires_at: dt.datetime | None
    delivered_at: dt.datetime | None
    read_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """Who on the receiving side has a message, and since when."""

    reader: str
    staff_id: uuid.UUID | None
    delivered_at: dt.datetime | None
    read_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class StaffMessage:
    """A message as the console shows it: who wrote it, how it came, every receipt."""

    id: uuid.UUID
    from_: str
    staff_id: uuid.UUID | None
    via: str
    body: str
    sent_at: dt.datetime
    expires_at: dt.datetime | None
    receipts: tuple[Receipt, ...]


@dataclass(frozen=True, slots=True)
class Unread:
    unread: int


@dataclass(frozen=True, slots=True)
class SurvivorUnread:
    survivor_id: uuid.UUID
    unread: int


@dataclass(frozen=True, slots=True)
class CaseloadUnread:
    items: tuple[SurvivorUnread, ...]


@dataclass(frozen=True, slots=True)
class MessageSettings:
    disappear_after: str
    reply_by_sms: bool


def _survivor_view(m: MessageView) -> SurvivorMessage:
    mine = m.sender_kind == SURVIVOR
    if mine:  # the team's receipts, without naming who on the team
        delivered = [r.delivered_at for r in m.receipts if r.delivered_at]
        read = [r.read_at for r in m.receipts if r.read_at]
    else:
        own = [r for r in m.receipts if r.reader_kind == SURVIVOR]
        delivered = [r.delivered_at for r in own if r.delivered_at]
        read = [r.read_at for r in own if r.read_at]
    return SurvivorMessage(
        id=m.id,
        from_="me" if mine else "team",
        body=m.body,
        sent_at=m.created_at,
        expires_at=m.expires_at,
        delivered_at=min(delivered) if delivered else None,
        read_at=min(read) if read else None,
    )


def _staff_view(m: MessageView) -> StaffMessage:
    return StaffMessage(
        id=m.id,
        from_=m.sender_kind,
        staff_id=m.sender_staff_id,
        via=m.via,
        body=m.body,
        sent_at=m.created_at,
        expires_at=m.expires_at,
        receipts=tuple(
            Receipt(
                reader=r.reader_kind,
                staff_id=r.reader_id if r.reader_kind == STAFF else None,
                delivered_at=r.delivered_at,
                read_at=r.read_at,
            )
            for r in m.receipts
        ),
    )


# --- survivor ---------------------------------------------------------------------------------


def survivor_list(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    vault: Vault,
    *,
    after: Position | None,
    limit: int,
) -> Page[SurvivorMessage]:
    reader = Reader(SURVIVOR, me.survivor_id)
    items, nxt = conv.list_messages(
        session, clock, vault, me.survivor_id, reader, after=after, limit=limit
    )
    return Page(tuple(_survivor_view(m) for m in items), nxt)


def survivor_send(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    vault: Vault,
    *,
    body: str,
    per_minute: int,
) -> SurvivorMessage:
    """Send to the advocate team; at most ``per_minute`` messages a minute (429 beyond)."""
    reader = Reader(SURVIVOR, me.survivor_id)
    conv.check_body(body)
    conv.require_send_slot(session, clock, reader, per_minute)
    return _survivor_view(conv.post_message(session, clock, vault, me.survivor_id, reader, body))


def survivor_mark_read(
    session: Session, me: SurvivorPrincipal, clock: Clock, *, up_to: uuid.UUID
) -> Unread:
    reader = Reader(SURVIVOR, me.survivor_id)
    return Unread(conv.mark_read(session, clock, me.survivor_id, reader, up_to))


def survivor_unread(session: Session, me: SurvivorPrincipal, clock: Clock) -> Unread:
    reader = Reader(SURVIVOR, me.survivor_id)
    return Unread(conv.unread_count(session, clock, me.survivor_id, reader))


def _settings(session: Session, clock: Clock, survivor_id: uuid.UUID) -> MessageSettings:
    return MessageSettings(
        disappear_after=conv.get_lifetime(session, clock, survivor_id),
        reply_by_sms=conv.conversation_for(session, clock, survivor_id).reply_by_sms,
    )


def survivor_get_settings(session: Session, me: SurvivorPrincipal, clock: Clock) -> MessageSettings:
    return _settings(session, clock, me.survivor_id)


def survivor_set_settings(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    *,
    disappear_after: str | None = None,
    reply_by_sms: bool | None = None,
) -> MessageSettings:
    """Change what is given (None keeps it: the schema lets neither be null)."""
    if disappear_after is not None:
        conv.set_lifetime(session, clock, me.survivor_id, disappear_after)
    if reply_by_sms is not None:
        conv.set_reply_by_sms(session, clock, me.survivor_id, reply_by_sms)
    return _settings(session, clock, me.survivor_id)


def survivor_clear(session: Session, me: SurvivorPrincipal, clock: Clock) -> None:
    count = conv.clear(session, clock, me.survivor_id)
    audit.record(
        session,
        clock,
        me.actor,
        "messages.cleared",
        subject_kind="conversation",
        survivor_id=me.survivor_id,
        details={"count": count},
    )


def survivor_set_phone(
    session: Session, me: SurvivorPrincipal, clock: Clock, vault: Vault, *, phone_number: str
) -> None:
    if phone.set_phone(session, vault, me.survivor_id, phone_number):
        _phone_changed(session, clock, me)


def survivor_clear_phone(session: Session, me: SurvivorPrincipal, clock: Clock) -> None:
    if phone.clear_phone(session, me.survivor_id):
        # Her SMS check-ins go on in the app rather than fail, or stop, when they are due.
        checkin_arrangements.move_sms_to_app(session, clock, me.actor, me.survivor_id)
        _phone_changed(session, clock, me)


def _phone_changed(session: Session, clock: Clock, me: SurvivorPrincipal) -> None:
    # Check-ins go to this number: a change the survivor did not make is a warning sign.
    notify_staff(
        session,
        clock,
        advocates_of(session, me.survivor_id),
        "sms_phone_changed",
        urgency="info",
        survivor_id=me.survivor_id,
    )
    audit.record(
        session,
        clock,
        me.actor,
        "sms.phone_changed",
        subject_kind="survivor",
        subject_id=me.survivor_id,
        survivor_id=me.survivor_id,
    )


# --- staff ------------------------------------------------------------------------------------


def _staff_reader(access: SurvivorAccess) -> Reader:
    staff = access.principal
    # The view reached this record through require_staff_access, which admits staff only.
    assert isinstance(staff, StaffPrincipal)
    return Reader(STAFF, staff.staff_id)


def staff_list(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    vault: Vault,
    *,
    after: Position | None,
    limit: int,
) -> Page[StaffMessage]:
    reader = _staff_reader(access)
    items, nxt = conv.list_messages(
        session, clock, vault, access.survivor_id, reader, after=after, limit=limit
    )
    return Page(tuple(_staff_view(m) for m in items), nxt)


def staff_send(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    vault: Vault,
    *,
    body: str,
    per_minute: int,
) -> StaffMessage:
    """Send to a survivor; at most ``per_minute`` messages a minute to all survivors together."""
    reader, survivor_id = _staff_reader(access), access.survivor_id
    conv.check_body(body)
    conv.require_send_slot(session, clock, reader, per_minute)
    message = conv.post_message(session, clock, vault, survivor_id, reader, body)
    if conv.conversation_for(session, clock, survivor_id).reply_by_sms:
        # The survivor talks by plain SMS and asked for replies there; without a number (or
        # opted out, which the send job checks) the reply still waits in the app.
        queue_survivor_sms(
            session,
            clock,
            vault,
            survivor_id,
            body=body,
            purpose="conversation",
            reference_id=message.id,
        )
    return _staff_view(message)


def staff_mark_read(
    session: Session, access: SurvivorAccess, clock: Clock, *, up_to: uuid.UUID
) -> Unread:
    reader = _staff_reader(access)
    return Unread(conv.mark_read(session, clock, access.survivor_id, reader, up_to))


def staff_get_settings(session: Session, access: SurvivorAccess, clock: Clock) -> MessageSettings:
    """The survivor's own choices for the conversation, which staff read and never change:
    how long messages live (staff messages disappear too) and whether replies go by SMS."""
    return _settings(session, clock, access.survivor_id)


def staff_unread(session: Session, me: StaffPrincipal, clock: Clock) -> CaseloadUnread:
    """Unread counts over my caseload: counts only, no content, so no step-up."""
    counts = conv.unread_by_survivor(session, clock, me.staff_id, caseload_of(session, me.staff_id))
    return CaseloadUnread(
        tuple(
            SurvivorUnread(sid, n) for sid, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
        )
    )
