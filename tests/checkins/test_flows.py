"""Time-travel through every path a check-in can take, with a frozen clock and a real worker."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import Actor
from core.notices import StaffNotice
from messaging.checkins import arrangements, replies, states
from messaging.checkins.models import CheckinOccurrence, Escalation
from messaging.checkins.occurrences import generate_for
from messaging.checkins.schedule import WEEKDAYS
from messaging.checkins.timers import on_sms_failure
from tests.checkins.conftest import World


def _one_off(world: World, session: Session, minutes: int = 60, **kw: object) -> CheckinOccurrence:
    rt = world.runtime
    arrangements.update_settings(
        session,
        rt.clock,
        rt.keyring,
        rt.vault,
        Actor("survivor", world.survivor.id),
        world.survivor.id,
        arrangements.SettingsChange(
            safe_reply="1", help_reply="blue moon", grace_minutes=30, second_window_minutes=20
        ),
    )
    schedule = arrangements.create_schedule(
        session,
        rt.clock,
        rt.vault,
        Actor("survivor", world.survivor.id),
        world.survivor.id,
        arrangements.NewSchedule(
            kind="one_off",
            channel=str(kw.get("channel", "sms")),
            due_at=rt.clock.now() + dt.timedelta(minutes=minutes),
            template="parcel",
        ),
    )
    generate_for(session, rt.clock, rt.vault, schedule)
    session.commit()
    return session.scalars(
        select(CheckinOccurrence).where(CheckinOccurrence.schedule_id == schedule.id)
    ).one()


def _state(session: Session, occ: CheckinOccurrence) -> str:
    session.expire_all()
    row = session.get(CheckinOccurrence, occ.id)
    assert row is not None
    return row.state


def _escalations(session: Session, world: World) -> list[Escalation]:
    session.expire_all()
    return list(
        session.scalars(select(Escalation).where(Escalation.survivor_id == world.survivor.id))
    )


def _reply(world: World, session: Session, text: str) -> bool:
    rt = world.runtime
    handled = replies.route_sms_reply(
        session, rt.clock, rt.keyring, world.sms, world.survivor.id, text
    )
    session.commit()
    return handled


def test_nothing_is_sent_before_it_is_due(world: World, db_session: Session) -> None:
    occ = _one_off(world, db_session, minutes=60)
    world.run_jobs()
    assert world.sms.to_survivors == []
    assert _state(db_session, occ) == states.SCHEDULED


def test_safe_reply_closes_the_check_in(world: World, db_session: Session) -> None:
    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    assert _state(db_session, occ) == states.SENT
    [(survivor_id, body, ref)] = world.sms.to_survivors
    assert survivor_id == world.survivor.id
    assert ref == occ.id
    assert "parcel" in body.lower()
    assert _reply(world, db_session, " 1 ")
    assert _state(db_session, occ) == states.SAFE
    world.travel(hours=3)
    world.run_jobs()
    assert _state(db_session, occ) == states.SAFE
    assert _escalations(db_session, world) == []
    assert world.welfare.calls == []


def test_help_reply_escalates_at_once_and_reaches_partner_if_unacknowledged(
    world: World, db_session: Session
) -> None:
    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    assert _reply(world, db_session, "Blue   Moon!")
    [esc] = _escalations(db_session, world)
    assert esc.source == "help_reply"
    assert esc.state == states.ESCALATED
    assert _state(db_session, occ) == states.ESCALATED
    notices = db_session.scalars(
        select(StaffNotice).where(StaffNotice.recipient_id == world.advocate.id)
    ).all()
    assert [n.kind for n in notices] == ["escalation.help_reply"]
    assert notices[0].urgency == "urgent"
    world.travel(minutes=19)
    world.run_jobs()
    assert world.welfare.calls == []  # second window not over yet
    world.travel(minutes=2)
    world.run_jobs()
    assert world.welfare.calls == [(world.survivor.id, esc.id, None)]
    world.travel(hours=2)
    world.run_jobs()
    assert len(world.welfare.calls) == 1  # once


def test_other_reply_is_not_a_check_in_answer(world: World, db_session: Session) -> None:
    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    assert not _reply(world, db_session, "can you call me later")
    assert _state(db_session, occ) == states.SENT


def test_no_reply_is_missed_then_escalated_and_acknowledged_in_time(
    world: World, db_session: Session
) -> None:
    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    # Grace runs from the time the check-in was due (19:00 + 30 min), not from when a busy
    # worker got the text out.
    world.travel(minutes=28)
    world.run_jobs()
    assert _state(db_session, occ) == states.SENT
    world.travel(minutes=1)
    world.run_jobs()
    assert _state(db_session, occ) == states.ESCALATED
    [esc] = _escalations(db_session, world)
    assert esc.source == "missed"
    from messaging.checkins.escalation import acknowledge

    acknowledge(
        db_session, world.clock, Actor("staff", world.advocate.id), [world.survivor.id], esc.id
    )
    db_session.commit()
    world.travel(minutes=30)
    world.run_jobs()
    assert world.welfare.calls == []
    assert _escalations(db_session, world)[0].partner_outcome == "acknowledged_in_time"
    assert _state(db_session, occ) == states.ACKNOWLEDGED


def test_late_reply_after_escalation_is_noted_not_undone(world: World, db_session: Session) -> None:
    occ = _one_off(world, db_session)
    world.travel(minutes=95)
    world.run_jobs()
    assert _state(db_session, occ) == states.ESCALATED
    assert _reply(world, db_session, "1")
    assert _state(db_session, occ) == states.ESCALATED
    [esc] = _escalations(db_session, world)
    assert esc.late_reply_at == world.clock.now()
    kinds = {n.kind for n in db_session.scalars(select(StaffNotice))}
    assert "late_reply.safe" in kinds


def test_send_failure_escalates_as_missed_without_waiting(
    world: World, db_session: Session
) -> None:
    world.sms.unavailable = "no_phone"
    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    assert _state(db_session, occ) == states.ESCALATED
    [esc] = _escalations(db_session, world)
    assert esc.source == "send_failed"
    row = db_session.get(CheckinOccurrence, occ.id)
    assert row is not None
    assert row.send_failure == "no_phone"


def test_opted_out_or_undelivered_after_sending_escalates(
    world: World, db_session: Session
) -> None:
    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    assert _state(db_session, occ) == states.SENT
    # The SMS outbox reports a permanent failure (opted out / undelivered) for this check-in.
    on_sms_failure(db_session, world.clock, world.sms, occ.id, "opted_out")
    db_session.commit()
    assert _state(db_session, occ) == states.ESCALATED
    assert _escalations(db_session, world)[0].source == "send_failed"
    # The grace timer firing later changes nothing and escalates nothing twice.
    world.travel(hours=2)
    world.run_jobs()
    assert len(_escalations(db_session, world)) == 1


def test_worker_down_past_grace_still_escalates(world: World, db_session: Session) -> None:
    occ = _one_off(world, db_session)
    # Nobody ran the send job (worker down) until long after the grace period.
    world.travel(hours=5)
    world.run_jobs()
    assert _state(db_session, occ) == states.ESCALATED
    assert _escalations(db_session, world)[0].source == "missed"


def test_quiet_window_defers_the_text_to_its_end(world: World, db_session: Session) -> None:
    rt = world.runtime
    # 12:00 UTC on 2026-06-01 is 13:00 in London; quiet 13:00-15:00 every day.
    arrangements.update_settings(
        db_session,
        rt.clock,
        rt.keyring,
        rt.vault,
        Actor("survivor", world.survivor.id),
        world.survivor.id,
        arrangements.SettingsChange(
            timezone="Europe/London",
            quiet_windows=[{"days": list(WEEKDAYS), "start": "13:00", "end": "15:00"}],
        ),
    )
    occ = _one_off(world, db_session, minutes=30)
    assert occ.send_at == dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)
    world.travel(minutes=90)
    world.run_jobs()
    assert world.sms.to_survivors == []
    world.travel(minutes=31)
    world.run_jobs()
    assert len(world.sms.to_survivors) == 1


def test_quiet_window_policy_app_moves_it_into_the_app(world: World, db_session: Session) -> None:
    rt = world.runtime
    arrangements.update_settings(
        db_session,
        rt.clock,
        rt.keyring,
        rt.vault,
        Actor("survivor", world.survivor.id),
        world.survivor.id,
        arrangements.SettingsChange(
            timezone="UTC",
            quiet_policy="app",
            quiet_windows=[{"days": list(WEEKDAYS), "start": "12:00", "end": "18:00"}],
        ),
    )
    occ = _one_off(world, db_session, minutes=30)
    assert occ.channel == "app"
    world.travel(minutes=31)
    world.run_jobs()
    assert world.sms.to_survivors == []
    assert _state(db_session, occ) == states.SENT


def test_snooze_moves_the_grace_timer(world: World, db_session: Session) -> None:
    from messaging.checkins.occurrences import snooze

    occ = _one_off(world, db_session)
    world.travel(minutes=61)
    world.run_jobs()
    row = db_session.get(CheckinOccurrence, occ.id)
    assert row is not None
    snooze(db_session, world.clock, Actor("survivor", world.survivor.id), row, 60)
    db_session.commit()
    world.travel(minutes=35)  # past the original grace end
    world.run_jobs()
    assert _state(db_session, occ) == states.SENT
    world.travel(minutes=60)
    world.run_jobs()
    assert _state(db_session, occ) == states.ESCALATED


def test_safe_now_from_the_app_answers_everything_waiting(
    world: World, db_session: Session
) -> None:
    occ = _one_off(world, db_session)
    answered = replies.safe_now(
        db_session, world.clock, Actor("survivor", world.survivor.id), world.survivor.id
    )
    db_session.commit()
    assert answered == 1
    assert _state(db_session, occ) == states.SAFE
    world.travel(hours=3)
    world.run_jobs()
    assert world.sms.to_survivors == []
    assert _escalations(db_session, world) == []


def _recurring_utc(
    world: World, session: Session, tz: str, at: str, start: dt.datetime, days: int
) -> list[str]:
    rt = world.runtime
    world.clock.set(start)
    schedule = arrangements.create_schedule(
        session,
        rt.clock,
        rt.vault,
        Actor("survivor", world.survivor.id),
        world.survivor.id,
        arrangements.NewSchedule(
            kind="recurring", channel="sms", days=list(WEEKDAYS), at=at, timezone=tz
        ),
    )
    out = []
    for _ in range(days):
        generate_for(session, rt.clock, rt.vault, schedule, horizon=dt.timedelta(hours=24))
        world.clock.advance(hours=24)
    rows = session.scalars(
        select(CheckinOccurrence)
        .where(CheckinOccurrence.schedule_id == schedule.id)
        .order_by(CheckinOccurrence.due_at)
    )
    for row in rows:
        out.append(row.due_at.strftime("%m-%d %H:%M"))
    return out


def test_recurring_across_dst_in_london(world: World, db_session: Session) -> None:
    got = _recurring_utc(
        world,
        db_session,
        "Europe/London",
        "19:00",
        dt.datetime(2026, 3, 27, 0, 0, tzinfo=dt.UTC),
        4,
    )
    assert got == ["03-27 19:00", "03-28 19:00", "03-29 18:00", "03-30 18:00"]


def test_recurring_across_dst_in_chicago(world: World, db_session: Session) -> None:
    got = _recurring_utc(
        world,
        db_session,
        "America/Chicago",
        "08:30",
        dt.datetime(2026, 10, 30, 0, 0, tzinfo=dt.UTC),
        4,
    )
    assert got == ["10-30 13:30", "10-31 13:30", "11-01 14:30", "11-02 14:30"]
