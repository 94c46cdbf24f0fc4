"""A staff member's own notices (core.notices.StaffNotice): list and mark read.

Nobody reads another person's notices: a notice id that is not the caller's is not found.
Pages run newest first (``core.pages``); a cursor naming a notice that is not the caller's is
not found either.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.principals import StaffPrincipal
from core.clock import Clock
from core.errors import NotFound
from core.notices import StaffNotice
from core.pages import Position, past

MAX_PAGE = 100


def _own(session: Session, staff_id: uuid.UUID, notice_id: uuid.UUID) -> StaffNotice:
    notice = session.get(StaffNotice, notice_id)
    if notice is None or notice.recipient_id != staff_id:
        raise NotFound("No such notice.")
    return notice


def list_notices(
    session: Session,
    staff: StaffPrincipal,
    *,
    unread_only: bool = False,
    urgencies: Collection[str] | None = None,
    limit: int = 50,
    after: Position | None = None,
) -> tuple[list[StaffNotice], Position | None]:
    """One page of the caller's notices and the cursor of the next page (None at the end).

    ``urgencies`` keeps only notices of those urgencies, in the query itself: a page of the
    newest notices filtered afterwards would let a run of lesser ones hide an urgent one.
    """
    stmt = select(StaffNotice).where(StaffNotice.recipient_id == staff.staff_id)
    if unread_only:
        stmt = stmt.where(StaffNotice.read_at.is_(None))
    if urgencies is not None:
        stmt = stmt.where(StaffNotice.urgency.in_(list(urgencies)))
    if after is not None:
        mark = _own(session, staff.staff_id, after.id)
        stmt = stmt.where(
            past(
                Position(mark.created_at, mark.id),
                StaffNotice.created_at,
                StaffNotice.id,
                newest_first=True,
            )
        )
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(
        session.scalars(
            stmt.order_by(StaffNotice.created_at.desc(), StaffNotice.id.desc()).limit(limit + 1)
        )
    )
    rows, more = rows[:limit], len(rows) > limit
    return rows, Position(rows[-1].created_at, rows[-1].id) if more else None


def mark_read(
    session: Session, clock: Clock, staff: StaffPrincipal, notice_id: uuid.UUID
) -> StaffNotice:
    """Mark one of the caller's notices read; the first reading time is kept."""
    notice = _own(session, staff.staff_id, notice_id)
    if notice.read_at is None:
        notice.read_at = clock.now()
        session.flush()
    return notice
