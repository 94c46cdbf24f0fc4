"""What the survivor app and the staff console may do with a conversation.

Survivors reach only their own conversation; a duress (decoy) session reaches its decoy
account's own conversation (``auth.survivors.decoys``), which no staff member can read or answer.
Staff must be fully signed in, on the survivor's caseload (break-glass supervisors may read),
and have given a second-factor code within 15 minutes (step-up) to read or send.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from auth.access.permissions import (
    advocates_of,
    caseload_of,
    require_fresh_second_factor,
    require_staff,
    require_staff_access,
    require_survivor,
)
from auth.principals import SurvivorPrincipal
from core import audit
from core.clock import Clock
from core.notices import notify_staff
from core.pages import Position
from core.vault import Vault
from messaging import conversations as conv
from messaging import phone
from messaging.checkins import arrangements as checkin_arrangements
from messaging.conversations import STAFF, SURVIVOR, MessageView, Reader
from messaging.sms.sending import queue_survivor_sms

STAFF_ROLES = ("advocate", "supervisor")


def _survivor_view(m: MessageView) -> dict[str, Any]:
    mine = m.sender_kind == SURVIVOR
    if mine:  # the team's receipts, without naming who on the team
        delivered = [r.delivered_at for r in m.receipts if r.delivered_at]
        read = [r.read_at for r in m.receipts if r.read_at]
    else:
        own = [r for r in m.receipts if r.reader_kind == SURVIVOR]
        delivered = [r.delivered_at for r in own if r.delivered_at]
        read = [r.read_at for r in own if r.read_at]
    return {
        "id": m.id,
        "from": "me" if mine else "team",
        "body": m.body,
        "sent_at": m.created_at,
        "expires_at": m.expires_at,
        "delivered_at": min(delivered) if delivered else None,
        "read_at": min(read) if read else None,
    }


def _staff_view(m: MessageView) -> dict[str, Any]:
    return {
        "id": m.id,
        "from": m.sender_kind,
        "staff_id": m.sender_staff_id,
        "via": m.via,
        "body": m.body,
        "sent_at": m.created_at,
        "expires_at": m.expires_at,
        "receipts": [
            {
                "reader": r.reader_kind,
                "staff_id": r.reader_id if r.reader_kind == STAFF else None,
                "delivered_at": r.delivered_at,
                "read_at": r.read_at,
            }
            for r in m.receipts
        ],
    }


# --- survivor -------------------------------------------------------------------------------


def survivor_list(
    session: Session, clock: Clock, vault: Vault, principal: Any, after: Position | None, limit: int
) -> dict[str, Any]:
    p = require_survivor(principal)
    items, nxt = conv.list_messages(
        session,
        clock,
        vault,
        p.survivor_id,
        Reader(SURVIVOR, p.survivor_id),
        after=after,
        limit=limit,
    )
    return {"items": [_survivor_view(m) for m in items], "next_cursor": nxt}


def survivor_send(
    session: Session, clock: Clock, vault: Vault, principal: Any, body: str, *, per_minute: int
) -> dict[str, Any]:
    """Send to the advocate team; at most ``per_minute`` messages a minute (429 beyond)."""
    p = require_survivor(principal)
    conv.check_body(body)
    conv.require_send_slot(session, clock, Reader(SURVIVOR, p.survivor_id), per_minute)
    m = conv.post_message(
        session, clock, vault, p.survivor_id, Reader(SURVIVOR, p.survivor_id), body
    )
    return _survivor_view(m)


def survivor_mark_read(
    session: Session, clock: Clock, principal: Any, up_to: uuid.UUID
) -> dict[str, int]:
    p = require_survivor(principal)
    reader = Reader(SURVIVOR, p.survivor_id)
    return {"unread": conv.mark_read(session, clock, p.survivor_id, reader, up_to)}


def survivor_unread(session: Session, clock: Clock, principal: Any) -> dict[str, int]:
    p = require_survivor(principal)
    reader = Reader(SURVIVOR, p.survivor_id)
    return {"unread": conv.unread_count(session, clock, p.survivor_id, reader)}


def _settings(session: Session, clock: Clock, survivor_id: uuid.UUID) -> dict[str, Any]:
    return {
        "disappear_after": conv.get_lifetime(session, clock, survivor_id),
        "reply_by_sms": conv.conversation_for(session, clock, survivor_id).reply_by_sms,
    }


def survivor_get_settings(session: Session, clock: Clock, principal: Any) -> dict[str, Any]:
    p = require_survivor(principal)
    return _settings(session, clock, p.survivor_id)


def survivor_set_settings(
    session: Session, clock: Clock, principal: Any, data: dict[str, Any]
) -> dict[str, Any]:
    p = require_survivor(principal)
    if "disappear_after" in data:
        conv.set_lifetime(session, clock, p.survivor_id, data["disappear_after"])
    if "reply_by_sms" in data:
        conv.set_reply_by_sms(session, clock, p.survivor_id, data["reply_by_sms"])
    return _settings(session, clock, p.survivor_id)


def survivor_clear(session: Session, clock: Clock, principal: Any) -> None:
    p = require_survivor(principal)
    count = conv.clear(session, clock, p.survivor_id)
    audit.record(
        session,
        clock,
        p.actor,
        "messages.cleared",
        subject_kind="conversation",
        survivor_id=p.survivor_id,
        details={"count": count},
    )


def survivor_set_phone(
    session: Session, clock: Clock, vault: Vault, principal: Any, raw: str
) -> None:
    p = require_survivor(principal)
    if phone.set_phone(session, vault, p.survivor_id, raw):
        _phone_changed(session, clock, p)


def survivor_clear_phone(session: Session, clock: Clock, principal: Any) -> None:
    p = require_survivor(principal)
    if phone.clear_phone(session, p.survivor_id):
        # Her SMS check-ins go on in the app rather than fail, or stop, when they are due.
        checkin_arrangements.move_sms_to_app(session, clock, p.actor, p.survivor_id)
        _phone_changed(session, clock, p)


def _phone_changed(session: Session, clock: Clock, p: SurvivorPrincipal) -> None:
    # Check-ins go to this number: a change the survivor did not make is a warning sign.
    notify_staff(
        session,
        clock,
        advocates_of(session, p.survivor_id),
        "sms_phone_changed",
        urgency="info",
        survivor_id=p.survivor_id,
    )
    audit.record(
        session,
        clock,
        p.actor,
        "sms.phone_changed",
        subject_kind="survivor",
        subject_id=p.survivor_id,
        survivor_id=p.survivor_id,
    )


# --- staff ----------------------------------------------------------------------------------


def _staff_access(
    session: Session, clock: Clock, principal: Any, survivor_id: uuid.UUID, action: str, write: bool
) -> Reader:
    p = require_staff(principal, *STAFF_ROLES)
    require_fresh_second_factor(p, clock)  # before the record is looked for: a 401, not a 404
    require_staff_access(
        session, clock, p, survivor_id, action=action, write=write, subject_kind="conversation"
    )
    return Reader(STAFF, p.staff_id)


def staff_list(
    session: Session,
    clock: Clock,
    vault: Vault,
    principal: Any,
    survivor_id: uuid.UUID,
    after: Position | None,
    limit: int,
) -> dict[str, Any]:
    reader = _staff_access(session, clock, principal, survivor_id, "messages.read", False)
    items, nxt = conv.list_messages(
        session, clock, vault, survivor_id, reader, after=after, limit=limit
    )
    return {"items": [_staff_view(m) for m in items], "next_cursor": nxt}


def staff_send(
    session: Session,
    clock: Clock,
    vault: Vault,
    principal: Any,
    survivor_id: uuid.UUID,
    body: str,
    *,
    per_minute: int,
) -> dict[str, Any]:
    """Send to a survivor; at most ``per_minute`` messages a minute to all survivors together."""
    reader = _staff_access(session, clock, principal, survivor_id, "messages.send", True)
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
    session: Session, clock: Clock, principal: Any, survivor_id: uuid.UUID, up_to: uuid.UUID
) -> dict[str, int]:
    reader = _staff_access(session, clock, principal, survivor_id, "messages.read", False)
    return {"unread": conv.mark_read(session, clock, survivor_id, reader, up_to)}


def staff_unread(session: Session, clock: Clock, principal: Any) -> dict[str, Any]:
    """Unread counts over my caseload: counts only, no content, so no step-up."""
    p = require_staff(principal, *STAFF_ROLES)
    counts = conv.unread_by_survivor(session, clock, p.staff_id, caseload_of(session, p.staff_id))
    return {
        "items": [
            {"survivor_id": sid, "unread": n}
            for sid, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
        ]
    }
