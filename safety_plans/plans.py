"""The living safety plan: versions, ETags, optimistic concurrency, restore, the decoy plan.

Every save is a new sealed version. A write names the version it was based on (If-Match) and
moves the plan's ``current_version_id`` with one compare-and-swap UPDATE: on PostgreSQL the
second of two concurrent writers waits for the first's row lock, then finds the condition
false and gets 412; on SQLite writers are serialised (BEGIN IMMEDIATE) to the same effect.

A duress session works on the decoy account's own plan (``auth.survivors.decoys``), which starts as
the owner's chosen decoy plan (or a shopping list) and then lives like any plan; when the owner
chooses a new decoy plan, it becomes the decoy's newest version.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from auth.principals import StaffPrincipal, SurvivorPrincipal
from auth.survivors import decoys
from auth.survivors.models import Survivor
from core import limits
from core.clock import Clock
from core.crypto import Binding
from core.errors import NotFound, PreconditionFailed, TooManyRequests
from core.ids import new_id
from safety_plans import profile
from safety_plans.deps import SafetyPlansDeps
from safety_plans.etags import etag_for, parse_if_match
from safety_plans.models import SafetyPlan, SafetyPlanVersion
from safety_plans.sections import SECTIONS, Item, Sections, normalise, serialise, template

SAVE_WINDOW = dt.timedelta(minutes=1)


class PlanSavesLimited(TooManyRequests):
    type_slug = "plan-saves-limited"
    title = "Too many plan saves"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: uuid.UUID
    number: int
    created_at: dt.datetime
    author: str  # system, survivor, advocate
    restored_from: int | None


@dataclass(frozen=True, slots=True)
class PlanView:
    version: VersionInfo
    sections: Sections

    @property
    def etag(self) -> str:
        return etag_for(self.version.id)


def _author(kind: str) -> str:
    return "advocate" if kind == "staff" else kind


def _info(row: SafetyPlanVersion) -> VersionInfo:
    return VersionInfo(
        row.id, row.number, row.created_at, _author(row.author_kind), row.restored_from
    )


def _binding(row_id: uuid.UUID, survivor_id: uuid.UUID) -> Binding:
    return Binding("safety_plan_versions", "sections_enc", row_id, survivor_id)


def _open(session: Session, deps: SafetyPlansDeps, row: SafetyPlanVersion) -> Sections:
    raw = deps.vault.open_text(session, _binding(row.id, row.survivor_id), row.sections_enc)
    return normalise(json.loads(raw))


def _new_version(
    session: Session,
    clock: Clock,
    deps: SafetyPlansDeps,
    plan_id: uuid.UUID,
    survivor_id: uuid.UUID,
    number: int,
    stored: str,
    author_kind: str,
    author_id: uuid.UUID | None,
    restored_from: int | None = None,
    row_id: uuid.UUID | None = None,
) -> SafetyPlanVersion:
    """A version row holding ``stored``, the sections as ``serialise`` wrote them."""
    row_id = row_id or new_id()  # chosen before sealing so the binding names the row
    row = SafetyPlanVersion(
        id=row_id,
        plan_id=plan_id,
        survivor_id=survivor_id,
        number=number,
        sections_enc=deps.vault.seal(session, _binding(row_id, survivor_id), stored),
        author_kind=author_kind,
        author_id=author_id,
        restored_from=restored_from,
        created_at=clock.now(),
    )
    session.add(row)
    return row


def _first_sections(
    session: Session, clock: Clock, deps: SafetyPlansDeps, survivor_id: uuid.UUID
) -> Sections:
    owner_id = session.scalar(select(Survivor.decoy_of).where(Survivor.id == survivor_id))
    if owner_id is None:
        return template()
    return profile.decoy_sections(session, clock, deps, owner_id)


def _plan(
    session: Session, clock: Clock, deps: SafetyPlansDeps, survivor_id: uuid.UUID
) -> SafetyPlan:
    """The survivor's plan, created on first use from the template (a decoy account's from
    its owner's chosen decoy plan)."""
    plan = session.scalars(
        select(SafetyPlan).where(SafetyPlan.survivor_id == survivor_id)
    ).one_or_none()
    if plan is not None:
        return plan
    now = clock.now()
    plan_id = new_id()
    try:
        with session.begin_nested():
            plan = SafetyPlan(
                id=plan_id,
                survivor_id=survivor_id,
                current_version_id=uuid.UUID(int=0),
                version_count=1,
                created_at=now,
                updated_at=now,
            )
            session.add(plan)
            session.flush()
            first = _new_version(
                session,
                clock,
                deps,
                plan_id,
                survivor_id,
                1,
                serialise(_first_sections(session, clock, deps, survivor_id)),
                "system",
                None,
            )
            plan.current_version_id = first.id
            session.flush()
    except IntegrityError:
        # Another request created it first (unique survivor_id): use theirs.
        return session.scalars(
            select(SafetyPlan).where(SafetyPlan.survivor_id == survivor_id)
        ).one()
    return plan


def _guard(session: Session, access: SurvivorAccess, clock: Clock) -> None:
    profile.require_staff_sharing(session, access, clock)


# --- reads ----------------------------------------------------------------------------------


def get_plan(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> PlanView:
    _guard(session, access, clock)
    plan = _plan(session, clock, deps, access.survivor_id)
    row = session.get(SafetyPlanVersion, plan.current_version_id)
    if row is None:  # pragma: no cover - the pointer is written with the version
        raise NotFound()
    return PlanView(_info(row), _open(session, deps, row))


def list_versions(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> list[VersionInfo]:
    """Newest first."""
    _guard(session, access, clock)
    plan = _plan(session, clock, deps, access.survivor_id)
    rows = session.scalars(
        select(SafetyPlanVersion)
        .where(SafetyPlanVersion.plan_id == plan.id)
        .order_by(SafetyPlanVersion.number.desc())
    )
    return [_info(row) for row in rows]


def _version_row(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    version_id: uuid.UUID,
) -> SafetyPlanVersion:
    plan = _plan(session, clock, deps, access.survivor_id)
    row = session.get(SafetyPlanVersion, version_id)
    if row is None or row.plan_id != plan.id:
        raise NotFound()
    return row


def get_version(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    version_id: uuid.UUID,
) -> PlanView:
    _guard(session, access, clock)
    row = _version_row(session, access, clock, deps, version_id)
    return PlanView(_info(row), _open(session, deps, row))


# --- writes ---------------------------------------------------------------------------------


def _checked(deps: SafetyPlansDeps, sections: Sections) -> str:
    """The stored form of a version about to be written; 413 when it is over the size limit."""
    return serialise(sections, deps.settings.plan_max_bytes)


def _author_id(access: SurvivorAccess) -> uuid.UUID:
    p = access.principal
    return p.staff_id if isinstance(p, StaffPrincipal) else p.survivor_id


def _require_save_slot(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> None:
    """429 when this author (the survivor, or the staff member across every plan they edit)
    has saved as many versions as a minute allows. Every write of a version starts here."""
    author_id = _author_id(access)
    limits.serialise(session, author_id)
    limits.require_slot(
        session,
        clock,
        PlanSavesLimited,
        "You have saved the plan many times in the last minute; try again shortly.",
        SafetyPlanVersion.created_at,
        [SafetyPlanVersion.author_id == author_id],
        limit=deps.settings.plan_saves_per_minute,
        window=SAVE_WINDOW,
    )


def _commit_version(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    if_match: str | None,
    sections: Sections,
    stored: str,
    restored_from: int | None = None,
) -> PlanView:
    tags = parse_if_match(if_match)
    plan = _plan(session, clock, deps, access.survivor_id)
    expected = plan.current_version_id
    number = plan.version_count + 1
    if etag_for(expected) not in tags:
        raise PreconditionFailed("The plan changed since you read it; reload and try again.")
    new_version_id = new_id()
    # Compare-and-swap: succeeds only if nobody moved the plan since we read it.
    result = session.execute(
        update(SafetyPlan)
        .where(SafetyPlan.id == plan.id, SafetyPlan.current_version_id == expected)
        .values(
            current_version_id=new_version_id,
            version_count=SafetyPlan.version_count + 1,
            updated_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("The plan changed since you read it; reload and try again.")
    session.expire(plan)
    author_id = _author_id(access)
    kind = "staff" if access.is_staff else "survivor"
    row = _new_version(
        session,
        clock,
        deps,
        plan.id,
        access.survivor_id,
        number,
        stored,
        kind,
        author_id,
        restored_from,
        row_id=new_version_id,
    )
    session.flush()
    return PlanView(_info(row), normalise(sections))


def save_plan(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    if_match: str | None,
    sections: Sections,
) -> PlanView:
    """Save the whole plan as a new version (If-Match required)."""
    stored = _checked(deps, sections)
    _require_save_slot(session, access, clock, deps)
    _guard(session, access, clock)
    return _commit_version(session, access, clock, deps, if_match, sections, stored)


def restore_version(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    version_id: uuid.UUID,
    if_match: str | None,
) -> PlanView:
    """Make an old version current again, as a new version (history is never rewritten)."""
    _require_save_slot(session, access, clock, deps)
    _guard(session, access, clock)
    row = _version_row(session, access, clock, deps, version_id)
    sections = _open(session, deps, row)
    # Held to today's limit: the old version stays readable even when it is too large.
    stored = _checked(deps, sections)
    return _commit_version(
        session, access, clock, deps, if_match, sections, stored, restored_from=row.number
    )


def add_items(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    if_match: str | None,
    additions: dict[str, list[Item]],
) -> PlanView:
    """Append items to sections in one new version (recommendations use this)."""
    current = get_plan(session, access, clock, deps)
    merged = {name: list(current.sections.get(name, [])) for name in SECTIONS}
    for name, items in additions.items():
        existing = {item["text"] for item in merged[name]}
        merged[name].extend(item for item in items if item["text"] not in existing)
    stored = _checked(deps, merged)
    _require_save_slot(session, access, clock, deps)
    return _commit_version(session, access, clock, deps, if_match, merged, stored)


def set_decoy_plan(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    sections: Sections,
) -> Sections:
    """Choose the decoy plan: kept on the profile, and, once the decoy account has a plan of
    its own, saved there as its newest version (by the survivor, as any edit would be)."""
    clean = profile.set_decoy_plan(session, access, clock, deps, sections=sections)
    if access.is_staff:
        return clean
    decoy = decoys.decoy_account(session, access.survivor_id)
    plan = (
        session.scalars(select(SafetyPlan).where(SafetyPlan.survivor_id == decoy.id)).one_or_none()
        if decoy is not None
        else None
    )
    if decoy is None or plan is None:
        return clean  # the decoy's plan will start from the new choice
    principal = access.principal
    assert isinstance(principal, SurvivorPrincipal)
    decoy_access = SurvivorAccess(
        decoy.id, "self", SurvivorPrincipal(decoy.id, principal.device_id, decoy=True)
    )
    stored = _checked(deps, clean)
    _commit_version(
        session, decoy_access, clock, deps, etag_for(plan.current_version_id), clean, stored
    )
    return clean
