"""The last check-in of each survivor on an advocate's caseload, for the console's caseload
page: one query, states only (no content, no phone)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from auth.principals import StaffPrincipal
from core.clock import Clock
from messaging.checkins import states
from messaging.checkins.models import CheckinOccurrence


@dataclass(frozen=True, slots=True)
class LastCheckin:
    due_at: dt.datetime
    state: str


def last_checkins(
    session: Session,
    staff: StaffPrincipal,
    clock: Clock,
    *,
    survivor_ids: Collection[uuid.UUID],
) -> dict[uuid.UUID, LastCheckin]:
    """The newest check-in already due, by survivor on the caller's caseload (cancelled ones
    left out); survivors without one are absent."""
    wanted = list(dict.fromkeys(survivor_ids))
    if not wanted:
        return {}
    due = (CheckinOccurrence.due_at <= clock.now()) & (CheckinOccurrence.state != states.CANCELLED)
    newest = (
        select(CheckinOccurrence.survivor_id, func.max(CheckinOccurrence.due_at).label("at"))
        .where(CheckinOccurrence.survivor_id.in_(wanted), due)
        .group_by(CheckinOccurrence.survivor_id)
        .subquery()
    )
    rows = session.execute(
        select(CheckinOccurrence.survivor_id, CheckinOccurrence.due_at, CheckinOccurrence.state)
        .join(
            newest,
            (newest.c.survivor_id == CheckinOccurrence.survivor_id)
            & (newest.c.at == CheckinOccurrence.due_at),
        )
        .join(CaseloadEntry, CaseloadEntry.survivor_id == CheckinOccurrence.survivor_id)
        .where(CaseloadEntry.staff_id == staff.staff_id, due)
    )
    return {sid: LastCheckin(due_at, state) for sid, due_at, state in rows}
