"""A staff member's own notices (core.notices.StaffNotice): list and mark read.

Nobody reads another person's notices: a notice id that is not the caller's is not found.
Pages run newest first; the cursor is the id of the last notice of the previous page.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from auth.principals import StaffPrincipal
from core.clock import Clock
from core.errors import NotFound
from core.notices import StaffNotice

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
    limit: int = 50,
    before: uuid.UUID | None = None,
) -> tuple[list[StaffNotice], uuid.UUID | None]:
    """One page of the caller's notices and the cursor of the next page (None at the end)."""
    stmt = select(StaffNotice).where(StaffNotice.recipient_id == staff.staff_id)
    if unread_only:
        stmt = stmt.where(StaffNotice.read_at.is_(None))
    if before is not None:
        mark = _own(session, staff.staff_id, before)
        stmt = stmt.where(
            or_(
                StaffNotice.created_at < mark.created_at,
                and_(StaffNotice.created_at == mark.created_at, StaffNotice.id < mark.id),
            )
        )
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(
        session.scalars(
            stmt.order_by(StaffNotice.created_at.desc(), StaffNotice.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def mark_read(
    session: Session, clock: Clock, staff: StaffPrincipal, notice_id: uuid.UUID
) -> StaffNotice:
    """Mark one of the caller's notices read; the first reading time is kept."""
    notice = _own(session, staff.staff_id, notice_id)
    if notice.read_at is None:
        notice.read_at = clock.now()
        session.flush()
    return notice
