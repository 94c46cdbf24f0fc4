"""Caseloads: which advocates work with which survivor.

An advocate sees their own caseload: ids, and the case labels they gave
(``auth.access.case_labels``), no other content. Supervisors assign and remove
advocates for any survivor; that is management, not access: it does not let them read the
survivor's record (``require_survivor_access`` decides that, by caseload or break-glass).

A survivor always keeps at least one active advocate: duress alerts, missed check-ins and PIN
guessing are notified to the survivor's advocates, and with nobody on the caseload those
alarms would reach no one. To move a survivor, assign the new advocate, then remove the old.

A supervisor cannot assign themselves: that would turn the management right into a read
right that skips break-glass (step-up, reason, notice to another supervisor). Every change is
audited against the survivor, so it shows in the survivor's access log, and the newly
assigned staff member gets a notice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access import case_labels
from auth.access.models import CaseloadEntry
from auth.access.permissions import SurvivorAccess, advocates_of
from auth.principals import StaffPrincipal
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.db import is_postgres
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ids import new_id
from core.notices import notify_staff
from core.vault import Vault

ASSIGNABLE_ROLES = ("advocate", "supervisor")


@dataclass(frozen=True, slots=True)
class SurvivorSummary:
    id: uuid.UUID
    created_at: dt.datetime
    advocates: list[uuid.UUID]
    via: str
    case_label: str | None


@dataclass(frozen=True, slots=True)
class CaseloadItem:
    """One survivor on the caller's caseload, as the caseload page lists it."""

    survivor_id: uuid.UUID
    assigned_at: dt.datetime
    case_label: str | None


def _survivor(session: Session, survivor_id: uuid.UUID, *, lock: bool = False) -> Survivor:
    # Caseload changes of one survivor are serialised on the survivor row, so that two
    # supervisors removing two different advocates at once cannot leave nobody.
    survivor = session.get(Survivor, survivor_id, with_for_update=lock and is_postgres(session))
    # A decoy account is nobody's case: staff never see it (``auth.survivors.decoys``).
    if survivor is None or survivor.erased_at is not None or survivor.decoy_of is not None:
        raise NotFound()
    return survivor


def my_caseload(session: Session, staff: StaffPrincipal) -> list[CaseloadEntry]:
    """The calling advocate's (or supervisor's) survivors, newest assignment first."""
    return list(
        session.scalars(
            select(CaseloadEntry)
            .join(Survivor, Survivor.id == CaseloadEntry.survivor_id)
            .where(
                CaseloadEntry.staff_id == staff.staff_id,
                Survivor.erased_at.is_(None),
                # Nobody is ever assigned a decoy account; should a row say so, it is still
                # nobody's case (``auth.survivors.decoys``).
                Survivor.decoy_of.is_(None),
            )
            .order_by(CaseloadEntry.assigned_at.desc(), CaseloadEntry.id)
        )
    )


def labelled_caseload(session: Session, staff: StaffPrincipal, vault: Vault) -> list[CaseloadItem]:
    """``my_caseload`` with each survivor's case label: three queries, however long the
    caseload (up to ``case_labels.BATCH`` survivors)."""
    entries = my_caseload(session, staff)
    labels = case_labels.case_labels(
        session, staff, vault, survivor_ids=[e.survivor_id for e in entries]
    )
    return [CaseloadItem(e.survivor_id, e.assigned_at, labels.get(e.survivor_id)) for e in entries]


def survivor_caseload(session: Session, survivor_id: uuid.UUID) -> list[CaseloadEntry]:
    """Who is assigned to a survivor (for supervisors; ids, no content)."""
    survivor = _survivor(session, survivor_id)
    return list(
        session.scalars(
            select(CaseloadEntry)
            .where(CaseloadEntry.survivor_id == survivor.id)
            .order_by(CaseloadEntry.assigned_at, CaseloadEntry.id)
        )
    )


def assign(
    session: Session,
    clock: Clock,
    supervisor: StaffPrincipal,
    survivor_id: uuid.UUID,
    staff_id: uuid.UUID,
) -> CaseloadEntry:
    """Put an active, enrolled advocate or supervisor on a survivor's caseload."""
    if staff_id == supervisor.staff_id:
        # Otherwise reassigning would be a quiet way round break-glass: reading through a
        # caseload is neither step-up protected nor notified to another supervisor.
        raise Forbidden("Supervisors cannot assign themselves; use break-glass to read.")
    survivor = _survivor(session, survivor_id, lock=True)
    member = session.get(StaffMember, staff_id)
    if (
        member is None
        or member.disabled_at is not None
        or member.role not in ASSIGNABLE_ROLES
        or member.totp_enrolled_at is None  # alarms must reach someone who can act on them
    ):
        raise InvalidInput(
            "Only an active advocate or supervisor can be assigned.",
            errors={"staff_id": ["Not an active advocate or supervisor."]},
        )
    existing = session.scalars(
        select(CaseloadEntry).where(
            CaseloadEntry.survivor_id == survivor.id, CaseloadEntry.staff_id == member.id
        )
    ).first()
    if existing is not None:
        raise Conflict("This staff member is already on the survivor's caseload.")
    entry = CaseloadEntry(
        id=new_id(),
        survivor_id=survivor.id,
        staff_id=member.id,
        assigned_by=supervisor.staff_id,
        assigned_at=clock.now(),
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        clock,
        supervisor.actor,
        "caseload.assign",
        subject_kind="staff_member",
        subject_id=member.id,
        survivor_id=survivor.id,
    )
    notify_staff(session, clock, [member.id], "caseload_assigned", survivor_id=survivor.id)
    return entry


def unassign(
    session: Session,
    clock: Clock,
    supervisor: StaffPrincipal,
    survivor_id: uuid.UUID,
    staff_id: uuid.UUID,
) -> None:
    """Take a staff member off a survivor's caseload; the last active advocate stays."""
    survivor = _survivor(session, survivor_id, lock=True)
    entry = session.scalars(
        select(CaseloadEntry).where(
            CaseloadEntry.survivor_id == survivor.id, CaseloadEntry.staff_id == staff_id
        )
    ).first()
    if entry is None:
        raise NotFound("This staff member is not on the survivor's caseload.")
    remaining = [s for s in advocates_of(session, survivor.id) if s != staff_id]
    if not remaining:
        raise Conflict(
            "A survivor must keep at least one active advocate, or their alarms reach "
            "nobody; assign the new advocate first."
        )
    session.delete(entry)
    session.flush()
    audit.record(
        session,
        clock,
        supervisor.actor,
        "caseload.unassign",
        subject_kind="staff_member",
        subject_id=staff_id,
        survivor_id=survivor.id,
    )


def survivor_summary(session: Session, access: SurvivorAccess, vault: Vault) -> SurvivorSummary:
    """A minimal record of one survivor, with her case label, for staff whose view reached it
    (``require_staff_access``, which audits the read)."""
    survivor = _survivor(session, access.survivor_id)
    label = case_labels.get_case_label(session, access, vault)
    return SurvivorSummary(
        id=survivor.id,
        created_at=survivor.created_at,
        advocates=advocates_of(session, survivor.id),
        via=access.via,
        case_label=label.text if label is not None else None,
    )
