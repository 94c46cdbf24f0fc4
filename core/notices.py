"""Notices to staff: the console's queue of things an advocate or admin must know.

Raised by any domain (a duress login, a PIN being guessed, a recovery code used, a survivor
opting out of SMS, an agency event). A notice names a kind and a survivor, never content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock
from core.db import Base
from core.ids import new_id

URGENCIES = ("info", "high", "urgent")


class StaffNotice(Base):
    __tablename__ = "staff_notices"
    __table_args__ = (Index("ix_staff_notices_recipient", "recipient_id", "read_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    recipient_id: Mapped[uuid.UUID]  # a staff member (no FK: core knows no domain table)
    kind: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16))
    survivor_id: Mapped[uuid.UUID | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]


def notify_staff(
    session: Session,
    clock: Clock,
    recipients: Iterable[uuid.UUID],
    kind: str,
    *,
    urgency: str = "info",
    survivor_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> list[StaffNotice]:
    """Queue a notice for each recipient in the caller's transaction."""
    if urgency not in URGENCIES:
        raise ValueError(f"unknown urgency {urgency!r}")
    now = clock.now()
    notices = [
        StaffNotice(
            id=new_id(),
            recipient_id=recipient,
            kind=kind,
            urgency=urgency,
            survivor_id=survivor_id,
            details=details or {},
            created_at=now,
        )
        for recipient in dict.fromkeys(recipients)
    ]
    session.add_all(notices)
    session.flush()
    return notices
