"""Check-in tables: a survivor's settings, their schedules, each occurrence, and escalations.

Times are stored in clear (the worker must find what is due without a key); everything a
survivor writes (custom SMS text, quiet windows that say when he is home, resolution notes)
is sealed with the survivor's data key. Reply codes are kept only as keyed hashes.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id


class CheckinSettings(Base):
    __tablename__ = "checkin_settings"

    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), primary_key=True
    )
    grace_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # How long advocates have to acknowledge before a consented partner agency is asked.
    second_window_minutes: Mapped[int] = mapped_column(Integer, default=30)
    safe_reply_digest: Mapped[str | None] = mapped_column(String(64))
    help_reply_digest: Mapped[str | None] = mapped_column(String(64))
    quiet_windows_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # "wait": a check-in due in a quiet window is sent when it ends; "answered": the app
    # counts it as answered (the survivor chose so: texting him home may be the danger).
    quiet_policy: Mapped[str] = mapped_column(String(16), default="wait")
    welfare_agency_id: Mapped[uuid.UUID | None]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    updated_at: Mapped[dt.datetime]


class CheckinSchedule(Base):
    __tablename__ = "checkin_schedules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # one_off | recurring
    due_at: Mapped[dt.datetime | None]  # one-off
    days: Mapped[list[str] | None] = mapped_column(JSON)  # recurring: ["mon", ...]
    local_time: Mapped[str | None] = mapped_column(String(5))  # recurring: "19:00"
    timezone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))  # sms | app
    template_id: Mapped[str | None] = mapped_column(String(32))
    custom_text_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    generated_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class CheckinOccurrence(Base):
    __tablename__ = "checkin_occurrences"
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at"),
        Index("ix_checkin_occurrences_survivor_state", "survivor_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("checkin_schedules.id", ondelete="CASCADE")
    )
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("survivors.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime]
    send_at: Mapped[dt.datetime]  # due_at, or the end of a quiet window
    state: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[dt.datetime | None]
    grace_ends_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    escalation_id: Mapped[uuid.UUID | None]
    outbound_sms_id: Mapped[uuid.UUID | None]
    send_failure: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]


class Escalation(Base):
    """Something an advocate must act on: a help reply, a missed check-in, a duress login."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_survivor_state", "survivor_id", "state"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("survivors.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(24))  # help_reply | missed | send_failed | duress
    urgency: Mapped[int] = mapped_column(Integer)  # higher first in the queue
    state: Mapped[str] = mapped_column(String(16))  # escalated | acknowledged | resolved
    occurrence_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime]
    partner_due_at: Mapped[dt.datetime | None]
    partner_alerted_at: Mapped[dt.datetime | None]
    partner_outcome: Mapped[str | None] = mapped_column(String(32))
    acknowledged_by: Mapped[uuid.UUID | None]
    acknowledged_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[uuid.UUID | None]
    resolved_at: Mapped[dt.datetime | None]
    resolution_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    late_reply_at: Mapped[dt.datetime | None]
