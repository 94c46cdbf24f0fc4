"""Check-in use cases as the API calls them: one function per endpoint, principal first.

A decoy (duress) session works on its decoy account's own check-ins (``auth.survivors.decoys``): the
abuser holding the phone never sees or cancels the real ones, and what the decoy schedules
comes due and reads back like any check-in, without texting or alerting anyone.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from auth.access.permissions import (
    caseload_of,
    require_staff,
    require_staff_access,
    require_survivor,
)
from core.errors import NotFound
from core.runtime import Runtime
from messaging.checkins import arrangements, escalation, occurrences, replies, states
from messaging.checkins.deps import CheckinSms
from messaging.checkins.models import (
    CheckinOccurrence,
    CheckinSchedule,
    CheckinSettings,
    Escalation,
)


def settings_view(session: Session, rt: Runtime, row: CheckinSettings) -> dict[str, Any]:
    return {
        "grace_minutes": row.grace_minutes,
        "second_window_minutes": row.second_window_minutes,
        "quiet_windows": arrangements.quiet_windows(session, rt.vault, row)
        if row.quiet_windows_enc
        else [],
        "quiet_policy": row.quiet_policy,
        "timezone": row.timezone,
        "paused": row.paused,
        "welfare_agency_id": row.welfare_agency_id,
        "reply_codes_set": bool(row.safe_reply_digest and row.help_reply_digest),
    }


def get_settings(session: Session, rt: Runtime, principal: Any) -> dict[str, Any]:
    me = require_survivor(principal)
    return settings_view(session, rt, arrangements.get_settings(session, rt.clock, me.survivor_id))


def update_settings(
    session: Session, rt: Runtime, principal: Any, data: dict[str, Any]
) -> dict[str, Any]:
    me = require_survivor(principal)
    change = arrangements.SettingsChange(
        grace_minutes=data.get("grace_minutes"),
        second_window_minutes=data.get("second_window_minutes"),
        safe_reply=data.get("safe_reply"),
        help_reply=data.get("help_reply"),
        quiet_windows=data.get("quiet_windows"),
        quiet_policy=data.get("quiet_policy"),
        welfare_agency_id=data.get("welfare_agency_id"),
        clear_welfare_agency="welfare_agency_id" in data and data["welfare_agency_id"] is None,
        timezone=data.get("timezone"),
        paused=data.get("paused"),
    )
    row = arrangements.update_settings(
        session, rt.clock, rt.keyring, rt.vault, me.actor, me.survivor_id, change
    )
    return settings_view(session, rt, row)


def schedule_view(s: CheckinSchedule) -> dict[str, Any]:
    return {
        "id": s.id,
        "kind": s.kind,
        "channel": s.channel,
        "due_at": s.due_at,
        "days": s.days,
        "local_time": s.local_time,
        "timezone": s.timezone,
        "template_id": s.template_id,
        "custom_text": s.custom_text_enc is not None,
        "created_at": s.created_at,
    }


def create_schedule(
    session: Session, rt: Runtime, principal: Any, data: dict[str, Any]
) -> dict[str, Any]:
    me = require_survivor(principal)
    new = arrangements.NewSchedule(
        kind=data["kind"],
        channel=data.get("channel", "sms"),
        due_at=data.get("due_at"),
        days=data.get("days"),
        at=data.get("at"),
        timezone=data.get("timezone"),
        template=data.get("template"),
        custom_text=data.get("custom_text"),
    )
    schedule = arrangements.create_schedule(
        session, rt.clock, rt.vault, me.actor, me.survivor_id, new
    )
    # Occurrences are made by a worker, never in the request: the job is in this transaction,
    # so a schedule never exists without its first occurrences following.
    occurrences.enqueue_generation(session, rt.clock, schedule)
    return schedule_view(schedule)


def list_schedules(session: Session, rt: Runtime, principal: Any) -> list[dict[str, Any]]:
    me = require_survivor(principal)
    return [schedule_view(s) for s in arrangements.list_schedules(session, me.survivor_id)]


def cancel_schedule(session: Session, rt: Runtime, principal: Any, schedule_id: uuid.UUID) -> None:
    me = require_survivor(principal)
    arrangements.cancel_schedule(session, rt.clock, me.actor, me.survivor_id, schedule_id)


def pending(session: Session, rt: Runtime, principal: Any) -> list[CheckinOccurrence]:
    me = require_survivor(principal)
    return occurrences.pending(session, me.survivor_id)


def _own_occurrence(
    session: Session, survivor_id: uuid.UUID, occurrence_id: uuid.UUID
) -> CheckinOccurrence:
    occ = session.get(CheckinOccurrence, occurrence_id)
    if occ is None or occ.survivor_id != survivor_id:
        raise NotFound()
    return occ


def answer(
    session: Session,
    rt: Runtime,
    principal: Any,
    occurrence_id: uuid.UUID,
    kind: str,
    *,
    sms: CheckinSms | None,
) -> Any:
    me = require_survivor(principal)
    _own_occurrence(session, me.survivor_id, occurrence_id)
    return replies.answer(session, rt.clock, sms, me.actor, occurrence_id, kind, "app")


def snooze(
    session: Session, rt: Runtime, principal: Any, occurrence_id: uuid.UUID, minutes: int
) -> Any:
    me = require_survivor(principal)
    occ = _own_occurrence(session, me.survivor_id, occurrence_id)
    if occ.state not in (states.SCHEDULED, states.SENT):
        raise NotFound()
    return occurrences.snooze(session, rt.clock, me.actor, occ, minutes)


def safe_now(session: Session, rt: Runtime, principal: Any) -> dict[str, int]:
    me = require_survivor(principal)
    return {"answered": replies.safe_now(session, rt.clock, me.actor, me.survivor_id)}


# --- staff ----------------------------------------------------------------------------------


def escalation_queue(
    session: Session, rt: Runtime, principal: Any, include_resolved: bool
) -> list[Any]:
    staff = require_staff(principal, "advocate", "supervisor")
    rows = escalation.queue(
        session, caseload_of(session, staff.staff_id), include_resolved=include_resolved
    )
    # The queue shows what happened, not what was written: notes are read one at a time.
    return [{**escalation.view(r, session, rt.vault), "resolution_note": None} for r in rows]


def _staff_access(
    session: Session, rt: Runtime, principal: Any, escalation_id: uuid.UUID, action: str
) -> Any:
    staff = require_staff(principal, "advocate", "supervisor")
    esc = session.get(Escalation, escalation_id)
    if esc is None:
        raise NotFound()
    require_staff_access(
        session,
        rt.clock,
        staff,
        esc.survivor_id,
        action=action,
        write=True,
        subject_kind="escalation",
        subject_id=esc.id,
    )
    return staff, [esc.survivor_id]


def acknowledge(
    session: Session, rt: Runtime, principal: Any, escalation_id: uuid.UUID
) -> dict[str, Any]:
    staff, scope = _staff_access(session, rt, principal, escalation_id, "escalation.acknowledge")
    esc = escalation.acknowledge(session, rt.clock, staff.actor, scope, escalation_id)
    return escalation.view(esc, session, rt.vault)


def resolve(
    session: Session, rt: Runtime, principal: Any, escalation_id: uuid.UUID, note: str
) -> dict[str, Any]:
    staff, scope = _staff_access(session, rt, principal, escalation_id, "escalation.resolve")
    esc = escalation.resolve(session, rt.clock, rt.vault, staff.actor, scope, escalation_id, note)
    return escalation.view(esc, session, rt.vault)
