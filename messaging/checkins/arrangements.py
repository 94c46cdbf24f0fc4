"""A survivor's check-in arrangements: what she sets up, her check-in settings (reply codes,
grace, quiet windows) and her schedules (one-off or recurring).

An SMS check-in needs a phone number: scheduling one without a number on file is refused
(422, ``phone-number-needed``), since a check-in that can never be sent would only raise a
false alarm when it is due. When the survivor later removes her number, her SMS check-ins are
moved to the app (schedules and the occurrences not yet sent), so they keep running where she
can answer them, and a check-in she does not answer still escalates; the advocates are told
the number changed. Setting a number again does not move them back: she chooses again.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.crypto import Binding, KeyRing, constant_time_equals
from core.errors import InvalidInput, NotFound
from core.ids import new_id
from core.vault import Vault
from messaging.checkins import states
from messaging.checkins.models import CheckinOccurrence, CheckinSchedule, CheckinSettings
from messaging.checkins.schedule import WEEKDAYS, QuietWindow, QuietWindowSpec, Recurrence, zone
from messaging.checkins.templates import check_text, template_text

GRACE_MIN, GRACE_MAX = 5, 240


class PhoneNumberNeeded(InvalidInput):
    """An SMS check-in was asked for, and there is no phone number to text."""

    type_slug = "phone-number-needed"
    title = "An SMS check-in needs a phone number"


# Twilio and carriers act on these words themselves; a reply code must never be one of them.
RESERVED_REPLIES = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "start",
        "yes",
        "unstop",
        "help",
        "info",
    }
)


def normalize_reply(text: str) -> str:
    return " ".join(text.strip().strip(".!?").casefold().split())


def reply_digest(ring: KeyRing, survivor_id: uuid.UUID, reply: str) -> str:
    return ring.keyed_digest("checkin-reply", f"{survivor_id}|{normalize_reply(reply)}")


def classify_reply(ring: KeyRing, row: CheckinSettings, text: str) -> str | None:
    """ "safe", "help" or None for any other text; compared in constant time on keyed hashes."""
    digest = reply_digest(ring, row.survivor_id, text)
    safe = row.safe_reply_digest is not None and constant_time_equals(digest, row.safe_reply_digest)
    helped = row.help_reply_digest is not None and constant_time_equals(
        digest, row.help_reply_digest
    )
    return states.SAFE if safe else states.HELP if helped else None


def _settings_binding(survivor_id: uuid.UUID) -> Binding:
    return Binding("checkin_settings", "quiet_windows_enc", survivor_id, survivor_id)


def get_settings(session: Session, clock: Clock, survivor_id: uuid.UUID) -> CheckinSettings:
    row = session.get(CheckinSettings, survivor_id)
    if row is None:
        row = CheckinSettings(
            survivor_id=survivor_id,
            grace_minutes=30,
            second_window_minutes=30,
            quiet_policy="wait",
            paused=False,
            timezone="UTC",
            updated_at=clock.now(),
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another request made them first (two check-ins scheduled at once): use theirs.
            row = session.get_one(CheckinSettings, survivor_id)
    return row


def quiet_windows(session: Session, vault: Vault, row: CheckinSettings) -> list[QuietWindowSpec]:
    if row.quiet_windows_enc is None:
        return []
    data: list[QuietWindowSpec] = json.loads(
        vault.open_text(session, _settings_binding(row.survivor_id), row.quiet_windows_enc)
    )
    return data


def parsed_quiet_windows(windows: list[QuietWindowSpec]) -> list[QuietWindow]:
    return [
        QuietWindow(
            frozenset(WEEKDAYS.index(d) for d in w["days"]),
            dt.time.fromisoformat(w["start"]),
            dt.time.fromisoformat(w["end"]),
        )
        for w in windows
    ]


def _validate_windows(windows: list[QuietWindowSpec]) -> list[QuietWindowSpec]:
    clean: list[QuietWindowSpec] = []
    for w in windows:
        try:
            days = sorted({d.lower() for d in w["days"]}, key=WEEKDAYS.index)
            start, end = dt.time.fromisoformat(w["start"]), dt.time.fromisoformat(w["end"])
        except (KeyError, ValueError):
            raise InvalidInput(
                "bad quiet window", errors={"quiet_windows": ["Use days and HH:MM times."]}
            ) from None
        if not days or start == end:
            raise InvalidInput(
                "bad quiet window", errors={"quiet_windows": ["A window needs days and a span."]}
            )
        clean.append({"days": days, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")})
    return clean


@dataclass(frozen=True)
class SettingsChange:
    grace_minutes: int | None = None
    second_window_minutes: int | None = None
    safe_reply: str | None = None
    help_reply: str | None = None
    quiet_windows: list[QuietWindowSpec] | None = None
    quiet_policy: str | None = None
    welfare_agency_id: uuid.UUID | None = None
    clear_welfare_agency: bool = False
    timezone: str | None = None
    paused: bool | None = None


def update_settings(
    session: Session,
    clock: Clock,
    ring: KeyRing,
    vault: Vault,
    actor: audit.Actor,
    survivor_id: uuid.UUID,
    change: SettingsChange,
) -> CheckinSettings:
    row = get_settings(session, clock, survivor_id)
    for name in ("grace_minutes", "second_window_minutes"):
        value = getattr(change, name)
        if value is not None:
            if not GRACE_MIN <= value <= GRACE_MAX:
                raise InvalidInput(
                    "out of range", errors={name: [f"Between {GRACE_MIN} and {GRACE_MAX}."]}
                )
            setattr(row, name, value)
    safe, helped = change.safe_reply, change.help_reply
    for name, value in (("safe_reply", safe), ("help_reply", helped)):
        if value is not None:
            norm = normalize_reply(value)
            if not norm or len(norm) > 32:
                raise InvalidInput("bad reply code", errors={name: ["Use 1 to 32 characters."]})
            if norm in RESERVED_REPLIES:
                raise InvalidInput(
                    "reserved word", errors={name: ["That word is reserved by phone networks."]}
                )
    # The pair as it will be stored: the two codes must never coincide.
    safe_digest = (
        reply_digest(ring, survivor_id, safe) if safe is not None else row.safe_reply_digest
    )
    help_digest = (
        reply_digest(ring, survivor_id, helped) if helped is not None else row.help_reply_digest
    )
    if safe_digest and help_digest and constant_time_equals(safe_digest, help_digest):
        field, other = ("help_reply", "safe") if helped is not None else ("safe_reply", "help")
        raise InvalidInput(
            "codes must differ", errors={field: [f"Must differ from the {other} reply."]}
        )
    row.safe_reply_digest, row.help_reply_digest = safe_digest, help_digest
    if change.quiet_windows is not None:
        clean = _validate_windows(change.quiet_windows)
        row.quiet_windows_enc = (
            vault.seal(session, _settings_binding(survivor_id), json.dumps(clean))
            if clean
            else None
        )
    if change.quiet_policy is not None:
        if change.quiet_policy not in ("wait", "app"):
            raise InvalidInput("bad policy", errors={"quiet_policy": ["Use wait or app."]})
        row.quiet_policy = change.quiet_policy
    if change.timezone is not None:
        zone(change.timezone)
        row.timezone = change.timezone
    if change.clear_welfare_agency:
        row.welfare_agency_id = None
    elif change.welfare_agency_id is not None:
        row.welfare_agency_id = change.welfare_agency_id
    if change.paused is not None and change.paused != row.paused:
        row.paused = change.paused
        if row.paused:
            _cancel_scheduled(session, survivor_id)
    row.updated_at = clock.now()
    audit.record(session, clock, actor, "checkin.settings_changed", survivor_id=survivor_id)
    return row


def _cancel_scheduled(
    session: Session, survivor_id: uuid.UUID, schedule_id: uuid.UUID | None = None
) -> None:
    stmt = select(CheckinOccurrence).where(
        CheckinOccurrence.survivor_id == survivor_id, CheckinOccurrence.state == states.SCHEDULED
    )
    if schedule_id is not None:
        stmt = stmt.where(CheckinOccurrence.schedule_id == schedule_id)
    for occ in session.scalars(stmt):
        occ.state = states.CANCELLED


@dataclass(frozen=True)
class NewSchedule:
    kind: str  # one_off | recurring
    channel: str  # sms | app
    due_at: dt.datetime | None = None
    days: list[str] | None = None
    at: str | None = None
    timezone: str | None = None
    template: str | None = None
    custom_text: str | None = None


def create_schedule(
    session: Session,
    clock: Clock,
    vault: Vault,
    actor: audit.Actor,
    survivor_id: uuid.UUID,
    new: NewSchedule,
) -> CheckinSchedule:
    if new.channel not in ("sms", "app"):
        raise InvalidInput("bad channel", errors={"channel": ["Use sms or app."]})
    if new.channel == "sms" and not _has_phone(session, survivor_id):
        raise PhoneNumberNeeded(
            "Set your phone number first, or choose the app for this check-in.",
            errors={
                "channel": ["An SMS check-in needs your phone number (PUT /v1/survivor/phone)."]
            },
        )
    row = get_settings(session, clock, survivor_id)
    tz = new.timezone or row.timezone
    zone(tz)
    schedule = CheckinSchedule(
        id=new_id(),
        survivor_id=survivor_id,
        kind=new.kind,
        timezone=tz,
        channel=new.channel,
        active=True,
        created_at=clock.now(),
    )
    if new.kind == "one_off":
        if new.due_at is None or new.due_at <= clock.now():
            raise InvalidInput("bad time", errors={"due_at": ["Choose a time in the future."]})
        if new.due_at > clock.now() + dt.timedelta(days=366):
            raise InvalidInput("bad time", errors={"due_at": ["Choose a time within a year."]})
        schedule.due_at = new.due_at
    elif new.kind == "recurring":
        rec = Recurrence.parse(new.days or [], new.at or "", tz)
        schedule.days = [WEEKDAYS[d] for d in sorted(rec.days)]
        schedule.local_time = rec.at.strftime("%H:%M")
    else:
        raise InvalidInput("bad kind", errors={"kind": ["Use one_off or recurring."]})
    if new.custom_text is not None:
        text = check_text(new.custom_text)
        schedule.custom_text_enc = vault.seal(
            session, Binding("checkin_schedules", "custom_text_enc", schedule.id, survivor_id), text
        )
    else:
        template_text(new.template or "appointment")
        schedule.template_id = new.template or "appointment"
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        clock,
        actor,
        "checkin.scheduled",
        subject_kind="checkin_schedule",
        subject_id=schedule.id,
        survivor_id=survivor_id,
    )
    return schedule


def _has_phone(session: Session, survivor_id: uuid.UUID) -> bool:
    # Locked: a number removed at the same moment either moves this schedule to the app
    # after it commits, or is seen gone by it.
    survivor = session.get(Survivor, survivor_id, with_for_update=True)
    return survivor is not None and survivor.phone_enc is not None


def move_sms_to_app(
    session: Session, clock: Clock, actor: audit.Actor, survivor_id: uuid.UUID
) -> int:
    """The survivor's number is gone: her SMS check-ins continue in the app. Returns how many
    schedules moved."""
    schedules = session.scalars(
        select(CheckinSchedule).where(
            CheckinSchedule.survivor_id == survivor_id,
            CheckinSchedule.channel == "sms",
            CheckinSchedule.active.is_(True),
        )
    ).all()
    for schedule in schedules:
        schedule.channel = "app"
    waiting = session.scalars(
        select(CheckinOccurrence).where(
            CheckinOccurrence.survivor_id == survivor_id,
            CheckinOccurrence.state == states.SCHEDULED,
            CheckinOccurrence.channel == "sms",
        )
    ).all()
    for occ in waiting:
        occ.channel = "app"
    if schedules or waiting:
        audit.record(
            session,
            clock,
            actor,
            "checkin.moved_to_app",
            survivor_id=survivor_id,
            details={"schedules": len(schedules), "occurrences": len(waiting)},
        )
    return len(schedules)


def sms_text(session: Session, vault: Vault, schedule: CheckinSchedule) -> str:
    if schedule.custom_text_enc is not None:
        return vault.open_text(
            session,
            Binding("checkin_schedules", "custom_text_enc", schedule.id, schedule.survivor_id),
            schedule.custom_text_enc,
        )
    return template_text(schedule.template_id or "appointment")


def list_schedules(session: Session, survivor_id: uuid.UUID) -> list[CheckinSchedule]:
    return list(
        session.scalars(
            select(CheckinSchedule)
            .where(CheckinSchedule.survivor_id == survivor_id, CheckinSchedule.active.is_(True))
            .order_by(CheckinSchedule.created_at)
        )
    )


def cancel_schedule(
    session: Session,
    clock: Clock,
    actor: audit.Actor,
    survivor_id: uuid.UUID,
    schedule_id: uuid.UUID,
) -> None:
    schedule = session.get(CheckinSchedule, schedule_id)
    if schedule is None or schedule.survivor_id != survivor_id or not schedule.active:
        raise NotFound()
    schedule.active = False
    _cancel_scheduled(session, survivor_id, schedule_id)
    audit.record(
        session,
        clock,
        actor,
        "checkin.cancelled",
        subject_kind="checkin_schedule",
        subject_id=schedule_id,
        survivor_id=survivor_id,
    )
