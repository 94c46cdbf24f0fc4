"""What the record tabs' tests put in a survivor's record, through the domains' own services
(as the survivor's app would): assessments, journal entries with attachments, check-ins,
sharing switches, and a supervisor's break-glass grant."""

from __future__ import annotations

import datetime as dt
import struct
import uuid
import zlib

from sqlalchemy.orm import Session

from api.wiring import wire
from auth.access.models import BreakGlassGrant
from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from auth.staff.models import StaffMember
from core.audit import Actor
from core.ids import new_id
from core.runtime import Runtime
from messaging.checkins import arrangements
from messaging.checkins.models import CheckinSchedule
from messaging.checkins.occurrences import generate_for
from safety_plans import assessments, attachments, journal, profile
from safety_plans.assessments import AssessmentView
from safety_plans.deps import SafetyPlansDeps
from safety_plans.entries import EntryIn, EntryView
from tests.factories import make_survivor

PDF = b"%PDF-1.7\n" + b"document" * 10


def png(width: int = 48, height: int = 32) -> bytes:
    """A real (tiny, striped) PNG, so that a browser draws it and ``attachments.sniff`` knows it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes((40 + 4 * (y % 8), 90, 160)) * width for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def deps(runtime: Runtime) -> SafetyPlansDeps:
    return wire(runtime).safety_plans


def as_survivor(survivor_id: uuid.UUID) -> SurvivorAccess:
    """The survivor acting on their own record in their app."""
    return SurvivorAccess(survivor_id, "self", SurvivorPrincipal(survivor_id, new_id(), False))


def share(
    session: Session,
    runtime: Runtime,
    survivor_id: uuid.UUID,
    *,
    plan: bool | None = None,
    journal: bool | None = None,
) -> None:
    profile.set_sharing(
        session, as_survivor(survivor_id), runtime.clock, plan_shared=plan, journal_shared=journal
    )


def dash_answers(yes: int = 0, incidents: int | None = None) -> dict[str, str | int]:
    answers: dict[str, str | int] = {f"q{i}": "yes" if i <= yes else "no" for i in range(1, 25)}
    if incidents is not None:
        answers["incidents_12_months"] = incidents
    return answers


def take_dash(
    session: Session, runtime: Runtime, survivor_id: uuid.UUID, yes: int = 0
) -> AssessmentView:
    """The survivor takes the DASH checklist in their app."""
    return assessments.take(
        session,
        as_survivor(survivor_id),
        runtime.clock,
        deps(runtime),
        instrument_id="dash",
        answers=dash_answers(yes),
    )


def upload(session: Session, runtime: Runtime, survivor_id: uuid.UUID, data: bytes) -> uuid.UUID:
    access = as_survivor(survivor_id)
    return attachments.upload(session, access, runtime.clock, deps(runtime), data=data).id


def write_entry(
    session: Session,
    runtime: Runtime,
    survivor_id: uuid.UUID,
    description: str = "He took my phone and read my messages.",
    *,
    files: tuple[bytes, ...] = (),
    amends: uuid.UUID | None = None,
) -> EntryView:
    ids = [upload(session, runtime, survivor_id, data) for data in files]
    entry: EntryIn = {
        "occurred_text": "Saturday evening",
        "kinds": ["technology_abuse", "using_intimidation"],
        "description": description,
        "attachment_ids": ids,
        "amends": amends,
    }
    access = as_survivor(survivor_id)
    return journal.create_entry(session, access, runtime.clock, deps(runtime), entry=entry)


def schedule(
    session: Session, runtime: Runtime, survivor_id: uuid.UUID, *, hours: int = 2
) -> CheckinSchedule:
    """A one-off in-app check-in the survivor set, with its occurrence generated."""
    rt = runtime
    new = arrangements.NewSchedule(
        kind="one_off", channel="app", due_at=rt.clock.now() + dt.timedelta(hours=hours)
    )
    row = arrangements.create_schedule(
        session, rt.clock, rt.vault, Actor("survivor", survivor_id), survivor_id, new
    )
    generate_for(session, rt.clock, rt.vault, row)
    return row


def break_glass(
    session: Session, runtime: Runtime, supervisor: StaffMember, survivor_id: uuid.UUID
) -> None:
    now = runtime.clock.now()
    session.add(
        BreakGlassGrant(
            id=new_id(),
            supervisor_id=supervisor.id,
            survivor_id=survivor_id,
            reason_enc=b"\x00" * 48,  # never opened by the access check
            created_at=now,
            expires_at=now + dt.timedelta(hours=1),
        )
    )
    session.flush()


# --- for tests/console/test_page_matrix.py: objects of another advocate's survivor ----------


def other_assessment(session: Session, runtime: Runtime, other: StaffMember) -> uuid.UUID:
    survivor = make_survivor(session, runtime, other)[0]
    return take_dash(session, runtime, survivor.id).id


def other_attachment(session: Session, runtime: Runtime, other: StaffMember) -> uuid.UUID:
    survivor = make_survivor(session, runtime, other)[0]
    share(session, runtime, survivor.id, journal=True)
    entry = write_entry(session, runtime, survivor.id, files=(png(),))
    assert entry.content is not None
    return uuid.UUID(entry.content["attachments"][0]["id"])
