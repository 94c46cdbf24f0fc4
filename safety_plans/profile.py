"""A survivor's safety profile: sharing switches, priorities, decoy plan, MARAC eligibility."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from core.crypto import Binding
from core.errors import InvalidInput, NotFound
from core.runtime import Runtime
from safety_plans.models import SafetyProfile
from safety_plans.sections import Sections, default_decoy, normalise, serialise

PRIORITIES: tuple[str, ...] = ("safety", "children", "staying_or_leaving", "housing", "privacy")


@dataclass(frozen=True)
class Sharing:
    plan_shared: bool
    journal_shared: bool


def profile_of(session: Session, runtime: Runtime, survivor_id: uuid.UUID) -> SafetyProfile:
    """The survivor's profile row, created with the defaults on first use."""
    row = session.get(SafetyProfile, survivor_id)
    if row is not None:
        return row
    now = runtime.clock.now()
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
    session: Session, runtime: Runtime, access: SurvivorAccess, *, journal: bool = False
) -> None:
    """Staff see the plan (and assessments) or the journal only while the survivor shares it.

    Refused as 404, like every access a caller may not have, so the switch itself is not
    revealed to someone probing ids.
    """
    if not access.is_staff:
        return
    profile = profile_of(session, runtime, access.survivor_id)
    shared = profile.journal_shared if journal else profile.plan_shared
    if not shared:
        raise NotFound()


def get_sharing(session: Session, runtime: Runtime, access: SurvivorAccess) -> Sharing:
    profile = profile_of(session, runtime, access.survivor_id)
    return Sharing(profile.plan_shared, profile.journal_shared)


def set_sharing(
    session: Session,
    runtime: Runtime,
    access: SurvivorAccess,
    *,
    plan_shared: bool | None,
    journal_shared: bool | None,
) -> Sharing:
    """Only the survivor flips their switches."""
    current = get_sharing(session, runtime, access)
    wanted = Sharing(
        current.plan_shared if plan_shared is None else plan_shared,
        current.journal_shared if journal_shared is None else journal_shared,
    )
    profile = profile_of(session, runtime, access.survivor_id)
    profile.plan_shared, profile.journal_shared = wanted.plan_shared, wanted.journal_shared
    profile.updated_at = runtime.clock.now()
    session.flush()
    return wanted


def _binding(survivor_id: uuid.UUID, column: str) -> Binding:
    return Binding("safety_profiles", column, survivor_id, survivor_id)


def get_priorities(session: Session, runtime: Runtime, access: SurvivorAccess) -> list[str]:
    profile = profile_of(session, runtime, access.survivor_id)
    if profile.priorities_enc is None:
        return []
    raw = runtime.vault.open_text(
        session, _binding(access.survivor_id, "priorities_enc"), profile.priorities_enc
    )
    return list(json.loads(raw))


def set_priorities(
    session: Session, runtime: Runtime, access: SurvivorAccess, priorities: list[str]
) -> list[str]:
    unknown = [p for p in priorities if p not in PRIORITIES]
    if unknown:
        raise InvalidInput("unknown priority", errors={"priorities": ["Unknown priority."]})
    chosen = [p for p in PRIORITIES if p in priorities]  # canonical order, no repeats
    profile = profile_of(session, runtime, access.survivor_id)
    profile.priorities_enc = runtime.vault.seal(
        session, _binding(access.survivor_id, "priorities_enc"), json.dumps(chosen)
    )
    profile.updated_at = runtime.clock.now()
    session.flush()
    return chosen


def decoy_sections(session: Session, runtime: Runtime, survivor_id: uuid.UUID) -> Sections:
    """The plan a duress session sees: the survivor's chosen decoy, or a shopping list."""
    profile = profile_of(session, runtime, survivor_id)
    if profile.decoy_plan_enc is None:
        return default_decoy()
    raw = runtime.vault.open_text(
        session, _binding(survivor_id, "decoy_plan_enc"), profile.decoy_plan_enc
    )
    return normalise(json.loads(raw))


def set_decoy_plan(
    session: Session, runtime: Runtime, access: SurvivorAccess, sections: Sections
) -> Sections:
    """Choose the decoy plan (the survivor's own choice; staff never set it)."""
    # One row, overwritten: no growth to rate-limit, but held to the size of a plan version.
    stored = serialise(sections, runtime.settings.plan_max_bytes)
    clean = normalise(sections)
    if access.is_staff:
        return clean
    profile = profile_of(session, runtime, access.survivor_id)
    profile.decoy_plan_enc = runtime.vault.seal(
        session, _binding(access.survivor_id, "decoy_plan_enc"), stored
    )
    profile.decoy_updated_at = profile.updated_at = runtime.clock.now()
    session.flush()
    return clean
