"""Messaging tables: conversations, their messages and receipts, and the SMS channel.

Nothing here holds a phone number or message text in clear: text and numbers are sealed with
the survivor's data key (or, for a staff member's phone, AEAD under a purpose key), and
numbers are found through the keyed blind index only.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id

# --- conversations --------------------------------------------------------------------------


class Conversation(Base):
    """The one conversation between a survivor and the advocates on their caseload."""

    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), unique=True
    )
    # Lifetime of new messages in seconds; None keeps them until cleared.
    disappear_after_seconds: Mapped[int | None] = mapped_column(Integer)
    # The survivor who talks by plain SMS (no app) chooses to get the team's replies as texts;
    # off by default, since a text shows on the phone's lock screen.
    reply_by_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime]
    cleared_at: Mapped[dt.datetime | None]


class ConversationMessage(Base):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        # Newest-first pages and unread counts walk this index.
        Index("ix_conversation_messages_page", "conversation_id", "created_at", "id"),
        # Messages per minute count a sender's newest messages (core.limits).
        Index("ix_conversation_messages_survivor_sent", "survivor_id", "sender_kind", "created_at"),
        Index("ix_conversation_messages_staff_sent", "sender_staff_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    survivor_id: Mapped[uuid.UUID] = mapped_column(index=True)  # owner of the data key
    sender_kind: Mapped[str] = mapped_column(String(16))  # survivor | staff
    sender_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    via: Mapped[str] = mapped_column(String(8))  # app | sms
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class MessageReceipt(Base):
    """Delivered/read for one message and one reader on the receiving side."""

    __tablename__ = "message_receipts"
    __table_args__ = (UniqueConstraint("message_id", "reader_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation_messages.id", ondelete="CASCADE")
    )
    reader_kind: Mapped[str] = mapped_column(String(16))  # survivor | staff
    reader_id: Mapped[uuid.UUID] = mapped_column(index=True)
    delivered_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]


# --- SMS ------------------------------------------------------------------------------------


class SmsPhoneState(Base):
    """Opt-out state of one phone number (by blind index), mirrored from STOP / START."""

    __tablename__ = "sms_phone_states"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[dt.datetime]


class OutboundSms(Base):
    """One SMS to send (the outbox row) and what became of it at the provider."""

    __tablename__ = "outbound_sms"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Exactly one of these owns the sealed number and body.
    survivor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    to_enc: Mapped[bytes] = mapped_column(LargeBinary)
    to_index: Mapped[str] = mapped_column(String(64), index=True)  # for the opt-out check
    # Dropped once the message is final: nothing needs the text any more.
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    purpose: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    # Committed just before the text is handed to the provider: a try that finds it set and
    # no SID knows an earlier try died mid-call and the text may have gone (never resend).
    attempt_started_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    status_at: Mapped[dt.datetime | None]
    redacted_at: Mapped[dt.datetime | None]


class SmsStatusEvent(Base):
    """A status callback that arrived before the send job had recorded the provider's SID
    (Twilio can call back before our transaction commits); applied when the SID is recorded,
    and pruned after a day if it never is."""

    __tablename__ = "sms_status_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    provider_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(index=True)


class InboundSms(Base):
    """One inbound SMS, kept only to deduplicate Twilio's retries: no number, no text."""

    __tablename__ = "inbound_sms"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # None for a text from a number several survivors share that is none's alone to claim.
    survivor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))  # stop|start|help|routed|message|unattributed
    received_at: Mapped[dt.datetime]
