"""A survivor's safety profile: sharing switches, priorities, decoy plan, MARAC eligibility."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from core.clock import Clock
from core.crypto import Binding
from core.errors import InvalidInput, NotFound
from safety_plans.deps import SafetyPlansDeps
from safety_plans.models import SafetyProfile
from safety_plans.sections import Sections, default_decoy, normalise, serialise

PRIORITIES: tuple[str, ...] = ("safety", "children", "staying_or_leaving", "housing", "privacy")


class NotShared(NotFound):
    """The survivor does not share this part of the record with staff.

    On ``/v1`` it is the same 404 as any access the caller may not have (same type, title and
    detail), so probing ids cannot tell the switch from a missing record; the console, which
    has already reached the record through the caseload, tells the advocate why.
    """

    def __init__(self, *, journal: bool = False) -> None:
        super().__init__()
        self.journal = journal


@dataclass(frozen=True, slots=True)
class Sharing:
    plan_shared: bool
    journal_shared: bool


def profile_of(session: Session, clock: Clock, survivor_id: uuid.UUID) -> SafetyProfile:
    """The survivor's profile row, created with the defaults on first use."""
    row = session.get(SafetyProfile, survivor_id)
    if row is not None:
        return row
    now = clock.now()
    row = SafetyProfile(
        survivor_id=survivor_id,
        plan_shared=True,
        journal_shared=False,
        created_at=now,
        updated_at=now,
    )
    try:
        # Two first requests at once: the loser re-reads the winner's row.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = session.get(SafetyProfile, survivor_id)
        if found is None:  # pragma: no cover - the unique winner must exist
            raise
        return found
    return row


def require_staff_sharing(
    session: Session, access: SurvivorAccess, clock: Clock, *, journal: bool = False
) -> None:
    """Staff see the plan (and assessments) or the journal only while the survivor shares it.

    Refused as 404, like every access a caller may not have, so the switch itself is not
    revealed to someone probing ids.
    """
    if not access.is_staff:
        return
    profile = profile_of(session, clock, access.survivor_id)
    shared = profile.journal_shared if journal else profile.plan_shared
    if not shared:
        raise NotShared(journal=journal)


def get_sharing(session: Session, access: SurvivorAccess, clock: Clock) -> Sharing:
    profile = profile_of(session, clock, access.survivor_id)
    return Sharing(profile.plan_shared, profile.journal_shared)


def set_sharing(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    *,
    plan_shared: bool | None,
    journal_shared: bool | None,
) -> Sharing:
    """Only the survivor flips their switches."""
    current = get_sharing(session, access, clock)
    wanted = Sharing(
        current.plan_shared if plan_shared is None else plan_shared,
        current.journal_shared if journal_shared is None else journal_shared,
    )
    profile = profile_of(session, clock, access.survivor_id)
    profile.plan_shared, profile.journal_shared = wanted.plan_shared, wanted.journal_shared
    profile.updated_at = clock.now()
    session.flush()
    return wanted


def _binding(survivor_id: uuid.UUID, column: str) -> Binding:
    return Binding("safety_profiles", column, survivor_id, survivor_id)


def get_priorities(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> list[str]:
    profile = profile_of(session, clock, access.survivor_id)
    if profile.priorities_enc is None:
        return []
    raw = deps.vault.open_text(
        session, _binding(access.survivor_id, "priorities_enc"), profile.priorities_enc
    )
    return list(json.loads(raw))


def set_priorities(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    priorities: list[str],
) -> list[str]:
    unknown = [p for p in priorities if p not in PRIORITIES]
    if unknown:
        raise InvalidInput("unknown priority", errors={"priorities": ["Unknown priority."]})
    chosen = [p for p in PRIORITIES if p in priorities]  # canonical order, no repeats
    profile = profile_of(session, clock, access.survivor_id)
    profile.priorities_enc = deps.vault.seal(
        session, _binding(access.survivor_id, "priorities_enc"), json.dumps(chosen)
    )
    profile.updated_at = clock.now()
    session.flush()
    return chosen


def decoy_plan(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> Sections:
    """The plan the survivor chose for a duress session to see."""
    return decoy_sections(session, clock, deps, access.survivor_id)


def decoy_sections(
    session: Session, clock: Clock, deps: SafetyPlansDeps, survivor_id: uuid.UUID
) -> Sections:
    """The plan a duress session sees: the survivor's chosen decoy, or a shopping list."""
    profile = profile_of(session, clock, survivor_id)
    if profile.decoy_plan_enc is None:
        return default_decoy()
    raw = deps.vault.open_text(
        session, _binding(survivor_id, "decoy_plan_enc"), profile.decoy_plan_enc
    )
    return normalise(json.loads(raw))


def set_decoy_plan(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    sections: Sections,
) -> Sections:
    """Choose the decoy plan (the survivor's own choice; staff never set it)."""
    # One row, overwritten: no growth to rate-limit, but held to the size of a plan version.
    stored = serialise(sections, deps.settings.plan_max_bytes)
    clean = normalise(sections)
    if access.is_staff:
        return clean
    profile = profile_of(session, clock, access.survivor_id)
    profile.decoy_plan_enc = deps.vault.seal(
        session, _binding(access.survivor_id, "decoy_plan_enc"), stored
    )
    profile.decoy_updated_at = profile.updated_at = clock.now()
    session.flush()
    return clean
