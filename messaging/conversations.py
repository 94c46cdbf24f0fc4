"""Conversations between a survivor and the advocates on their caseload.

One conversation per survivor. Text is sealed with the survivor's data key. Receipts belong
to the receiving side: a survivor's message gets one receipt per advocate who fetched or read
it; an advocate's message gets the survivor's receipt. An advocate's unread count is the
survivor's messages that advocate has not read (advocates' own messages to the survivor are
not "unread" for their colleagues). Expired messages are hidden at once and deleted by the
``messaging.expire`` job; clearing deletes every message and receipt immediately.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core import jobs, limits
from core.clock import Clock
from core.crypto import Binding
from core.errors import InvalidInput, NotFound, TooManyRequests
from core.ids import new_id
from core.jobs import JobContext
from core.pages import Position, past
from core.vault import Vault
from messaging.models import Conversation, ConversationMessage, MessageReceipt
from messaging.push import PUSH_JOB
from messaging.sms.sending import prune_status_events

SURVIVOR, STAFF = "survivor", "staff"
LIFETIMES: dict[str, int | None] = {"off": None, "1h": 3600, "24h": 86400, "7d": 604800}
EXPIRE_JOB = "messaging.expire"
MAX_BODY_CHARS = 4000
DEFAULT_PAGE, MAX_PAGE = 50, 100
SEND_WINDOW = dt.timedelta(minutes=1)


class MessagesLimited(TooManyRequests):
    type_slug = "messages-limited"
    title = "Too many messages"


@dataclass(frozen=True)
class Reader:
    """Who is looking: the survivor, or one staff member."""

    kind: str
    id: uuid.UUID


@dataclass
class MessageView:
    id: uuid.UUID
    sender_kind: str
    sender_staff_id: uuid.UUID | None
    via: str
    body: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    receipts: list[MessageReceipt] = field(default_factory=list)


def _binding(message_id: uuid.UUID, survivor_id: uuid.UUID) -> Binding:
    return Binding("conversation_messages", "body_enc", message_id, survivor_id)


def conversation_for(session: Session, clock: Clock, survivor_id: uuid.UUID) -> Conversation:
    conv = session.scalars(
        select(Conversation).where(Conversation.survivor_id == survivor_id)
    ).one_or_none()
    if conv is None:
        try:
            with session.begin_nested():
                conv = Conversation(id=new_id(), survivor_id=survivor_id, created_at=clock.now())
                session.add(conv)
                session.flush()
        except IntegrityError:
            # Two first messages at once (e.g. an SMS and an app message): take the winner's.
            conv = session.scalars(
                select(Conversation).where(Conversation.survivor_id == survivor_id)
            ).one()
    return conv


def _live(now: dt.datetime) -> ColumnElement[bool]:
    return or_(ConversationMessage.expires_at.is_(None), ConversationMessage.expires_at > now)


def _incoming(reader: Reader) -> ColumnElement[bool]:
    return ConversationMessage.sender_kind == (STAFF if reader.kind == SURVIVOR else SURVIVOR)


def check_body(body: str) -> None:
    if not body.strip() or len(body) > MAX_BODY_CHARS:
        raise InvalidInput("empty or too long", errors={"body": ["1-4000 characters."]})


def require_send_slot(session: Session, clock: Clock, sender: Reader, per_minute: int) -> None:
    """429 when ``sender`` has sent ``per_minute`` messages in the last minute: a survivor
    counts their own messages (texts by SMS too), a staff member theirs to every survivor.
    Call before storing; the caller validates the body first."""
    limits.serialise(session, sender.id)
    if sender.kind == SURVIVOR:
        mine = [
            ConversationMessage.survivor_id == sender.id,
            ConversationMessage.sender_kind == SURVIVOR,
        ]
    else:
        mine = [ConversationMessage.sender_staff_id == sender.id]
    limits.require_slot(
        session,
        clock,
        MessagesLimited,
        "You have sent many messages in the last minute; try again shortly.",
        ConversationMessage.created_at,
        mine,
        limit=per_minute,
        window=SEND_WINDOW,
    )


def post_message(
    session: Session,
    clock: Clock,
    vault: Vault,
    survivor_id: uuid.UUID,
    sender: Reader,
    body: str,
    *,
    via: str = "app",
) -> MessageView:
    """Add a message to the survivor's conversation; staff messages trigger a neutral push."""
    check_body(body)
    conv = conversation_for(session, clock, survivor_id)
    now = clock.now()
    lifetime = conv.disappear_after_seconds
    msg_id = new_id()
    msg = ConversationMessage(
        id=msg_id,
        conversation_id=conv.id,
        survivor_id=survivor_id,
        sender_kind=sender.kind,
        sender_staff_id=sender.id if sender.kind == STAFF else None,
        via=via,
        body_enc=vault.seal(session, _binding(msg_id, survivor_id), body),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=lifetime) if lifetime else None,
    )
    session.add(msg)
    session.flush()
    if sender.kind == STAFF:
        jobs.enqueue(session, clock, PUSH_JOB, {"survivor_id": str(survivor_id)}, max_attempts=5)
    return MessageView(msg.id, msg.sender_kind, msg.sender_staff_id, via, body, now, msg.expires_at)


def list_messages(
    session: Session,
    clock: Clock,
    vault: Vault,
    survivor_id: uuid.UUID,
    reader: Reader,
    *,
    after: Position | None = None,
    limit: int = DEFAULT_PAGE,
) -> tuple[list[MessageView], Position | None]:
    """A page of messages, newest first; incoming ones count as delivered to ``reader``."""
    now = clock.now()
    limit = max(1, min(limit, MAX_PAGE))
    conv = conversation_for(session, clock, survivor_id)
    stmt = select(ConversationMessage).where(
        ConversationMessage.conversation_id == conv.id, _live(now)
    )
    if after is not None:
        stmt = stmt.where(
            past(after, ConversationMessage.created_at, ConversationMessage.id, newest_first=True)
        )
    rows = list(
        session.scalars(
            stmt.order_by(
                ConversationMessage.created_at.desc(), ConversationMessage.id.desc()
            ).limit(limit + 1)
        )
    )
    rows, more = rows[:limit], len(rows) > limit
    next_cursor = Position(rows[-1].created_at, rows[-1].id) if more else None
    incoming_kind = STAFF if reader.kind == SURVIVOR else SURVIVOR
    _touch(session, now, reader, [m.id for m in rows if m.sender_kind == incoming_kind], read=False)
    receipts: dict[uuid.UUID, list[MessageReceipt]] = {m.id: [] for m in rows}
    if rows:
        for r in session.scalars(
            select(MessageReceipt).where(MessageReceipt.message_id.in_(list(receipts)))
        ):
            receipts[r.message_id].append(r)
    views = [
        MessageView(
            m.id,
            m.sender_kind,
            m.sender_staff_id,
            m.via,
            vault.open_text(session, _binding(m.id, survivor_id), m.body_enc),
            m.created_at,
            m.expires_at,
            sorted(receipts[m.id], key=lambda r: str(r.reader_id)),
        )
        for m in rows
    ]
    return views, next_cursor


def _touch(
    session: Session, now: dt.datetime, reader: Reader, ids: list[uuid.UUID], *, read: bool
) -> None:
    """Record delivered (and, with ``read``, read) receipts for ``reader``; first time wins."""
    if not ids:
        return
    existing = {
        r.message_id: r
        for r in session.scalars(
            select(MessageReceipt).where(
                MessageReceipt.message_id.in_(ids), MessageReceipt.reader_id == reader.id
            )
        )
    }
    for mid in ids:
        receipt = existing.get(mid)
        if receipt is None:
            receipt = MessageReceipt(
                id=new_id(), message_id=mid, reader_kind=reader.kind, reader_id=reader.id
            )
            session.add(receipt)
        if receipt.delivered_at is None:
            receipt.delivered_at = now
        if read and receipt.read_at is None:
            receipt.read_at = now
    session.flush()


def mark_read(
    session: Session, clock: Clock, survivor_id: uuid.UUID, reader: Reader, up_to: uuid.UUID
) -> int:
    """Mark every incoming message up to and including ``up_to`` read; returns unread left."""
    now = clock.now()
    conv = conversation_for(session, clock, survivor_id)
    anchor = session.get(ConversationMessage, up_to)
    if anchor is None or anchor.conversation_id != conv.id:
        raise NotFound("No such message.")
    ids = list(
        session.scalars(
            select(ConversationMessage.id).where(
                ConversationMessage.conversation_id == conv.id,
                _incoming(reader),
                _live(now),
                or_(
                    ConversationMessage.created_at < anchor.created_at,
                    and_(
                        ConversationMessage.created_at == anchor.created_at,
                        ConversationMessage.id <= anchor.id,
                    ),
                ),
            )
        )
    )
    _touch(session, now, reader, ids, read=True)
    return unread_count(session, clock, survivor_id, reader)


def _unread_stmt(reader: Reader, now: dt.datetime) -> Select[uuid.UUID, int]:
    return (
        select(ConversationMessage.survivor_id, func.count(ConversationMessage.id))
        .outerjoin(
            MessageReceipt,
            and_(
                MessageReceipt.message_id == ConversationMessage.id,
                MessageReceipt.reader_id == reader.id,
            ),
        )
        .where(_incoming(reader), _live(now), MessageReceipt.read_at.is_(None))
        .group_by(ConversationMessage.survivor_id)
    )


def unread_count(session: Session, clock: Clock, survivor_id: uuid.UUID, reader: Reader) -> int:
    stmt = _unread_stmt(reader, clock.now()).where(ConversationMessage.survivor_id == survivor_id)
    row = session.execute(stmt).first()
    return int(row[1]) if row else 0


def unread_by_survivor(
    session: Session, clock: Clock, staff_id: uuid.UUID, survivor_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Unread counts for one advocate over their caseload (zero where nothing is unread)."""
    counts = dict.fromkeys(survivor_ids, 0)
    if survivor_ids:
        stmt = _unread_stmt(Reader(STAFF, staff_id), clock.now()).where(
            ConversationMessage.survivor_id.in_(survivor_ids)
        )
        for sid, n in session.execute(stmt):
            counts[sid] = int(n)
    return counts


def set_lifetime(session: Session, clock: Clock, survivor_id: uuid.UUID, lifetime: str) -> str:
    """Set how long new messages live (off, 1h, 24h, 7d)."""
    if lifetime not in LIFETIMES:
        raise InvalidInput("unknown lifetime", errors={"disappear_after": ["off, 1h, 24h, 7d."]})
    conv = conversation_for(session, clock, survivor_id)
    conv.disappear_after_seconds = LIFETIMES[lifetime]
    session.flush()
    return lifetime


def set_reply_by_sms(session: Session, clock: Clock, survivor_id: uuid.UUID, on: bool) -> bool:
    conv = conversation_for(session, clock, survivor_id)
    conv.reply_by_sms = on
    session.flush()
    return on


def get_lifetime(session: Session, clock: Clock, survivor_id: uuid.UUID) -> str:
    seconds = conversation_for(session, clock, survivor_id).disappear_after_seconds
    return next((k for k, v in LIFETIMES.items() if v == seconds), "off")


def _delete_messages(session: Session, where: ColumnElement[bool]) -> int:
    # Receipts first: bulk deletes bypass ORM cascades, and SQLite's FK cascade is not relied on.
    ids = select(ConversationMessage.id).where(where).scalar_subquery()
    session.execute(
        delete(MessageReceipt)
        .where(MessageReceipt.message_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        delete(ConversationMessage).where(where).execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


def clear(session: Session, clock: Clock, survivor_id: uuid.UUID) -> int:
    """Delete the survivor's whole history now (rows, not flags); returns how many went."""
    conv = conversation_for(session, clock, survivor_id)
    count = _delete_messages(session, ConversationMessage.conversation_id == conv.id)
    conv.cleared_at = clock.now()
    session.flush()
    return count


def expire(session: Session, clock: Clock) -> int:
    """Delete every message whose lifetime has ended, for both sides."""
    now = clock.now()
    return _delete_messages(
        session,
        and_(ConversationMessage.expires_at.is_not(None), ConversationMessage.expires_at <= now),
    )


def expire_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """``messaging.expire`` (every minute): expired messages, and stale early SMS statuses."""
    expire(ctx.session, ctx.clock)
    prune_status_events(ctx.session, ctx.clock)
