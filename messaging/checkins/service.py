"""Check-in use cases as the API calls them: one function per endpoint, the caller first.

The survivor's app passes her ``SurvivorPrincipal``. A decoy (duress) session works on its
decoy account's own check-ins (``auth.survivors.decoys``): the abuser holding the phone never
sees or cancels the real ones, and what the decoy schedules comes due and reads back like any
check-in, without texting or alerting anyone. Staff see the escalation queue of their own
caseload (their ``StaffPrincipal``); to act on one escalation their view first reaches its
survivor (``escalation_survivor``, then ``auth.access.permissions.require_staff_access``) and passes
the resulting ``SurvivorAccess`` here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Required, TypedDict

from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, caseload_of
from auth.principals import StaffPrincipal, SurvivorPrincipal
from core.clock import Clock
from core.crypto import KeyRing
from core.errors import NotFound
from messaging.checkins import arrangements, escalation, occurrences, replies, states
from messaging.checkins.deps import CheckinDeps
from messaging.checkins.escalation import EscalationView
from messaging.checkins.models import (
    CheckinOccurrence,
    CheckinSchedule,
    CheckinSettings,
    Escalation,
)
from messaging.checkins.schedule import QuietWindowSpec


class SettingsUpdate(TypedDict, total=False):
    """What the survivor changes in her settings (``SettingsUpdateSchema``); absent keeps it."""

    grace_minutes: int
    second_window_minutes: int
    safe_reply: str
    help_reply: str
    quiet_windows: list[QuietWindowSpec]
    quiet_policy: str
    timezone: str
    paused: bool
    welfare_agency_id: uuid.UUID | None  # None: no welfare agency any more


class ScheduleRequest(TypedDict, total=False):
    """A check-in to schedule (``ScheduleCreateSchema``)."""

    kind: Required[str]
    channel: str
    due_at: dt.datetime | None
    days: list[str]
    at: str
    timezone: str
    template: str
    custom_text: str


@dataclass(frozen=True, slots=True)
class SettingsView:
    """The survivor's settings as her app shows them: never the reply codes themselves."""

    grace_minutes: int
    second_window_minutes: int
    quiet_windows: list[QuietWindowSpec]
    quiet_policy: str
    timezone: str
    paused: bool
    welfare_agency_id: uuid.UUID | None
    reply_codes_set: bool


@dataclass(frozen=True, slots=True)
class ScheduleView:
    id: uuid.UUID
    kind: str
    channel: str
    due_at: dt.datetime | None
    days: list[str] | None
    local_time: str | None
    timezone: str
    template_id: str | None
    custom_text: bool  # the survivor wrote her own text (never shown back)
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OccurrenceView:
    id: uuid.UUID
    schedule_id: uuid.UUID
    due_at: dt.datetime
    send_at: dt.datetime
    grace_ends_at: dt.datetime
    state: str
    channel: str


@dataclass(frozen=True, slots=True)
class Answered:
    answered: int


def _settings_view(session: Session, deps: CheckinDeps, row: CheckinSettings) -> SettingsView:
    return SettingsView(
        grace_minutes=row.grace_minutes,
        second_window_minutes=row.second_window_minutes,
        quiet_windows=arrangements.quiet_windows(session, deps.vault, row)
        if row.quiet_windows_enc
        else [],
        quiet_policy=row.quiet_policy,
        timezone=row.timezone,
        paused=row.paused,
        welfare_agency_id=row.welfare_agency_id,
        reply_codes_set=bool(row.safe_reply_digest and row.help_reply_digest),
    )


def get_settings(
    session: Session, me: SurvivorPrincipal, clock: Clock, deps: CheckinDeps
) -> SettingsView:
    row = arrangements.get_settings(session, clock, me.survivor_id)
    return _settings_view(session, deps, row)


def update_settings(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    keyring: KeyRing,
    deps: CheckinDeps,
    *,
    change: SettingsUpdate,
) -> SettingsView:
    settings_change = arrangements.SettingsChange(
        grace_minutes=change.get("grace_minutes"),
        second_window_minutes=change.get("second_window_minutes"),
        safe_reply=change.get("safe_reply"),
        help_reply=change.get("help_reply"),
        quiet_windows=change.get("quiet_windows"),
        quiet_policy=change.get("quiet_policy"),
        welfare_agency_id=change.get("welfare_agency_id"),
        clear_welfare_agency="welfare_agency_id" in change and change["welfare_agency_id"] is None,
        timezone=change.get("timezone"),
        paused=change.get("paused"),
    )
    row = arrangements.update_settings(
        session, clock, keyring, deps.vault, me.actor, me.survivor_id, settings_change
    )
    return _settings_view(session, deps, row)


def _schedule_view(s: CheckinSchedule) -> ScheduleView:
    return ScheduleView(
        id=s.id,
        kind=s.kind,
        channel=s.channel,
        due_at=s.due_at,
        days=s.days,
        local_time=s.local_time,
        timezone=s.timezone,
        template_id=s.template_id,
        custom_text=s.custom_text_enc is not None,
        created_at=s.created_at,
    )


def create_schedule(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    deps: CheckinDeps,
    *,
    request: ScheduleRequest,
) -> ScheduleView:
    new = arrangements.NewSchedule(
        kind=request["kind"],
        channel=request.get("channel", "sms"),
        due_at=request.get("due_at"),
        days=request.get("days"),
        at=request.get("at"),
        timezone=request.get("timezone"),
        template=request.get("template"),
        custom_text=request.get("custom_text"),
    )
    schedule = arrangements.create_schedule(
        session, clock, deps.vault, me.actor, me.survivor_id, new
    )
    # Occurrences are made by a worker, never in the request: the job is in this transaction,
    # so a schedule never exists without its first occurrences following.
    occurrences.enqueue_generation(session, clock, schedule)
    return _schedule_view(schedule)


def list_schedules(session: Session, me: SurvivorPrincipal) -> list[ScheduleView]:
    return [_schedule_view(s) for s in arrangements.list_schedules(session, me.survivor_id)]


def cancel_schedule(
    session: Session, me: SurvivorPrincipal, clock: Clock, *, schedule_id: uuid.UUID
) -> None:
    arrangements.cancel_schedule(session, clock, me.actor, me.survivor_id, schedule_id)


def _occurrence_view(occ: CheckinOccurrence) -> OccurrenceView:
    return OccurrenceView(
        id=occ.id,
        schedule_id=occ.schedule_id,
        due_at=occ.due_at,
        send_at=occ.send_at,
        grace_ends_at=occ.grace_ends_at,
        state=occ.state,
        channel=occ.channel,
    )


def pending(session: Session, me: SurvivorPrincipal) -> list[OccurrenceView]:
    return [_occurrence_view(o) for o in occurrences.pending(session, me.survivor_id)]


def _own_occurrence(
    session: Session, survivor_id: uuid.UUID, occurrence_id: uuid.UUID
) -> CheckinOccurrence:
    occ = session.get(CheckinOccurrence, occurrence_id)
    if occ is None or occ.survivor_id != survivor_id:
        raise NotFound()
    return occ


def answer(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    deps: CheckinDeps,
    *,
    occurrence_id: uuid.UUID,
    kind: str,
) -> OccurrenceView | None:
    _own_occurrence(session, me.survivor_id, occurrence_id)
    occ = replies.answer(session, clock, deps.sms, me.actor, occurrence_id, kind, "app")
    return _occurrence_view(occ) if occ is not None else None


def snooze(
    session: Session,
    me: SurvivorPrincipal,
    clock: Clock,
    *,
    occurrence_id: uuid.UUID,
    minutes: int,
) -> OccurrenceView:
    occ = _own_occurrence(session, me.survivor_id, occurrence_id)
    if occ.state not in (states.SCHEDULED, states.SENT):
        raise NotFound()
    return _occurrence_view(occurrences.snooze(session, clock, me.actor, occ, minutes))


def safe_now(session: Session, me: SurvivorPrincipal, clock: Clock) -> Answered:
    return Answered(replies.safe_now(session, clock, me.actor, me.survivor_id))


# --- staff ----------------------------------------------------------------------------------


def escalation_queue(
    session: Session, me: StaffPrincipal, deps: CheckinDeps, *, include_resolved: bool
) -> list[EscalationView]:
    rows = escalation.queue(
        session, caseload_of(session, me.staff_id), include_resolved=include_resolved
    )
    # The queue shows what happened, not what was written: notes are read one at a time.
    return [
        dataclasses.replace(escalation.view(r, session, deps.vault), resolution_note=None)
        for r in rows
    ]


#: The action a staff read of the check-ins is audited under (the API's and the console's).
STAFF_READ = "checkin.read"
#: How many occurrences a staff member sees: a fortnight of a daily check-in and what is next.
RECENT_OCCURRENCES = 20


@dataclass(frozen=True, slots=True)
class StaffCheckinsView:
    """What the survivor's advocate sees of her check-ins: read only, never their texts, reply
    codes or quiet windows (which say when he is home)."""

    paused: bool
    schedules: list[ScheduleView]
    occurrences: list[OccurrenceView]  # newest due first


def staff_checkins(session: Session, access: SurvivorAccess) -> StaffCheckinsView:
    """The survivor's active schedules and latest occurrences, for staff who reached her."""
    sid = access.survivor_id
    # Read, never created here: a reader (break-glass included) must not write settings rows.
    settings = session.get(CheckinSettings, sid)
    return StaffCheckinsView(
        paused=bool(settings and settings.paused),
        schedules=[_schedule_view(s) for s in arrangements.list_schedules(session, sid)],
        occurrences=[
            _occurrence_view(o) for o in occurrences.recent(session, sid, RECENT_OCCURRENCES)
        ],
    )


def escalation_survivor(session: Session, escalation_id: uuid.UUID) -> uuid.UUID:
    """Whose escalation this is, for the view's access check; 404 when there is none."""
    esc = session.get(Escalation, escalation_id)
    if esc is None:
        raise NotFound()
    return esc.survivor_id


def acknowledge(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: CheckinDeps,
    *,
    escalation_id: uuid.UUID,
) -> EscalationView:
    scope = [access.survivor_id]
    esc = escalation.acknowledge(session, clock, access.actor, scope, escalation_id)
    return escalation.view(esc, session, deps.vault)


def resolve(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: CheckinDeps,
    *,
    escalation_id: uuid.UUID,
    note: str,
) -> EscalationView:
    scope = [access.survivor_id]
    esc = escalation.resolve(session, clock, deps.vault, access.actor, scope, escalation_id, note)
    return escalation.view(esc, session, deps.vault)
