"""The dead-man timer: occurrences are generated ahead, and each is armed with two durable
timers when it is created: one to send it, one for the end of its grace period.

Because the grace timer exists from the moment the occurrence does, a check-in escalates even
if its SMS is never sent (Twilio down, a worker killed, the number opted out). Timers carry
the deadline they were armed for; a timer made stale by a snooze does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit, jobs
from core.clock import Clock
from core.db import is_postgres
from core.ids import new_id
from core.vault import Vault
from messaging.checkins import states
from messaging.checkins.arrangements import get_settings, parsed_quiet_windows, quiet_windows
from messaging.checkins.models import CheckinOccurrence, CheckinSchedule, CheckinSettings
from messaging.checkins.schedule import Recurrence, quiet_until

log = logging.getLogger(__name__)

HORIZON = dt.timedelta(hours=48)
SEND_JOB, GRACE_JOB, GENERATE_JOB = "checkins.send", "checkins.grace", "checkins.generate"
GENERATE_ONE_JOB = "checkins.generate_schedule"


def _arm(session: Session, clock: Clock, occ: CheckinOccurrence) -> None:
    """Durable timers for one occurrence, keyed by the deadline they serve."""
    stamp = occ.grace_ends_at.isoformat()
    jobs.enqueue(
        session,
        clock,
        SEND_JOB,
        {"occurrence_id": str(occ.id), "send_at": occ.send_at.isoformat()},
        run_at=occ.send_at,
        dedupe_key=f"{SEND_JOB}:{occ.id}:{occ.send_at.isoformat()}",
        max_attempts=5,
    )
    jobs.enqueue(
        session,
        clock,
        GRACE_JOB,
        {"occurrence_id": str(occ.id), "grace_ends_at": stamp},
        run_at=occ.grace_ends_at,
        dedupe_key=f"{GRACE_JOB}:{occ.id}:{stamp}",
        max_attempts=20,
    )


def add_occurrence(
    session: Session,
    clock: Clock,
    vault: Vault,
    settings: CheckinSettings,
    schedule: CheckinSchedule,
    due_at: dt.datetime,
) -> CheckinOccurrence | None:
    """Create and arm one occurrence; None if it already exists (generation is idempotent)."""
    exists = session.scalars(
        select(CheckinOccurrence.id).where(
            CheckinOccurrence.schedule_id == schedule.id, CheckinOccurrence.due_at == due_at
        )
    ).first()
    if exists is not None:
        return None
    send_at, channel = due_at, schedule.channel
    if channel == "sms":
        windows = parsed_quiet_windows(quiet_windows(session, vault, settings))
        quiet_end = quiet_until(due_at, windows, schedule.timezone) if windows else None
        if quiet_end is not None:
            if settings.quiet_policy == "app":
                channel = "app"  # the survivor answers in the app; nothing is texted
            else:
                send_at = quiet_end
    occ = CheckinOccurrence(
        id=new_id(),
        schedule_id=schedule.id,
        survivor_id=schedule.survivor_id,
        due_at=due_at,
        send_at=send_at,
        state=states.CANCELLED if settings.paused else states.SCHEDULED,
        channel=channel,
        grace_ends_at=send_at + dt.timedelta(minutes=settings.grace_minutes),
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(occ)
            session.flush()
    except IntegrityError:
        return None  # another worker generated it first
    if occ.state == states.SCHEDULED:
        _arm(session, clock, occ)
    return occ


def generate_for(
    session: Session,
    clock: Clock,
    vault: Vault,
    schedule: CheckinSchedule,
    horizon: dt.timedelta = HORIZON,
) -> int:
    """Create one schedule's occurrences up to ``now + horizon`` (idempotent)."""
    now = clock.now()
    created = 0
    if schedule.kind == "one_off":
        if schedule.due_at is not None and schedule.generated_until is None:
            settings = get_settings(session, clock, schedule.survivor_id)
            created += (
                add_occurrence(session, clock, vault, settings, schedule, schedule.due_at)
                is not None
            )
            schedule.generated_until = schedule.due_at
        return created
    until = now + horizon
    settings = get_settings(session, clock, schedule.survivor_id)
    start = max(schedule.generated_until or schedule.created_at, now - dt.timedelta(minutes=1))
    rec = Recurrence.parse(schedule.days or [], schedule.local_time or "", schedule.timezone)
    for due in rec.occurrences(start, until):
        created += add_occurrence(session, clock, vault, settings, schedule, due) is not None
    schedule.generated_until = until
    return created


def enqueue_generation(session: Session, clock: Clock, schedule: CheckinSchedule) -> None:
    """Ask a worker to generate a new schedule's occurrences now."""
    jobs.enqueue(
        session,
        clock,
        GENERATE_ONE_JOB,
        {"schedule_id": str(schedule.id)},
        dedupe_key=f"{GENERATE_ONE_JOB}:{schedule.id}",
        max_attempts=10,
    )


def generate(session: Session, clock: Clock, vault: Vault, horizon: dt.timedelta = HORIZON) -> int:
    """Create occurrences for every active schedule that needs them (the worker runs this
    periodically): one-offs not made yet, and recurring schedules whose horizon is within an
    hour of running out. The rest (most of them) are not even loaded."""
    refill_before = clock.now() + horizon - dt.timedelta(hours=1)
    schedules = session.scalars(
        select(CheckinSchedule).where(
            CheckinSchedule.active.is_(True),
            or_(
                CheckinSchedule.generated_until.is_(None),
                and_(
                    CheckinSchedule.kind != "one_off",
                    CheckinSchedule.generated_until < refill_before,
                ),
            ),
        )
    ).all()
    return sum(generate_for(session, clock, vault, s, horizon) for s in schedules)


def transition(
    session: Session,
    clock: Clock,
    occ: CheckinOccurrence,
    wanted: str,
    actor: audit.Actor,
    **details: Any,
) -> bool:
    """Move forward (audited); False when already there. Illegal moves raise."""
    target = states.next_state(occ.state, wanted)
    if target is None:
        return False
    before = occ.state
    occ.state = target
    audit.record(
        session,
        clock,
        actor,
        f"checkin.{target}",
        subject_kind="checkin_occurrence",
        subject_id=occ.id,
        survivor_id=occ.survivor_id,
        details={"from": before, **details},
    )
    return True


def lock_occurrences(
    session: Session, occurrence_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CheckinOccurrence]:
    """Several occurrences, row-locked in id order (two batches never wait on each other in a
    circle)."""
    stmt = (
        select(CheckinOccurrence)
        .where(CheckinOccurrence.id.in_(occurrence_ids))
        .order_by(CheckinOccurrence.id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return {o.id: o for o in session.scalars(stmt)}


def lock_occurrence(session: Session, occurrence_id: uuid.UUID) -> CheckinOccurrence | None:
    """The occurrence, row-locked on PostgreSQL so that a reply and a timer cannot race."""
    return lock_occurrences(session, [occurrence_id]).get(occurrence_id)


def pending(session: Session, survivor_id: uuid.UUID) -> list[CheckinOccurrence]:
    """Occurrences waiting for the survivor's answer, newest first."""
    return list(
        session.scalars(
            select(CheckinOccurrence)
            .where(
                CheckinOccurrence.survivor_id == survivor_id,
                CheckinOccurrence.state.in_((states.SCHEDULED, states.SENT)),
            )
            .order_by(CheckinOccurrence.send_at.desc())
            .execution_options(populate_existing=True)
        )
    )


def recent(session: Session, survivor_id: uuid.UUID, limit: int) -> list[CheckinOccurrence]:
    """The survivor's latest ``limit`` occurrences by due time, newest first, in any state
    (those generated ahead of now included: they are what comes next)."""
    return list(
        session.scalars(
            select(CheckinOccurrence)
            .where(CheckinOccurrence.survivor_id == survivor_id)
            .order_by(CheckinOccurrence.due_at.desc(), CheckinOccurrence.id)
            .limit(limit)
        )
    )


def snooze(
    session: Session, clock: Clock, actor: audit.Actor, occ: CheckinOccurrence, minutes: int
) -> CheckinOccurrence:
    """Push an occurrence (and its grace timer) later; the old timers go stale."""
    delta = dt.timedelta(minutes=minutes)
    if occ.state == states.SCHEDULED:
        occ.send_at = max(occ.send_at, clock.now()) + delta
        occ.grace_ends_at = occ.grace_ends_at + delta
    else:
        occ.grace_ends_at = max(occ.grace_ends_at, clock.now()) + delta
    _arm(session, clock, occ)
    audit.record(
        session,
        clock,
        actor,
        "checkin.snoozed",
        subject_kind="checkin_occurrence",
        subject_id=occ.id,
        survivor_id=occ.survivor_id,
        details={"minutes": minutes},
    )
    return occ
