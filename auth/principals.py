"""Who is making a request. Built by the authenticators, passed to every service."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from core.audit import Actor


@dataclass(frozen=True, slots=True)
class StaffPrincipal:
    """A staff member with a full (password + TOTP) session."""

    staff_id: uuid.UUID
    role: str  # advocate, supervisor or admin
    session_id: uuid.UUID
    second_factor_at: dt.datetime | None  # for step-up: when a code was last given

    @property
    def actor(self) -> Actor:
        return Actor("staff", self.staff_id)


@dataclass(frozen=True, slots=True)
class PendingStaffPrincipal:
    """A staff session that has passed the password but must still enrol TOTP.

    It reaches only the enrolment endpoints; every other staff route refuses it.
    """

    staff_id: uuid.UUID
    session_id: uuid.UUID

    @property
    def actor(self) -> Actor:
        return Actor("staff", self.staff_id)


@dataclass(frozen=True, slots=True)
class SurvivorPrincipal:
    """A survivor's device session. ``decoy`` is True after a duress PIN: ``survivor_id`` is
    then the decoy account's (``auth.survivors.decoys``), which services serve like any other
    account; only what would reach another person (staff, agencies) is held back: its own check-ins
    are texted, as a real account's are, to the number set in it."""

    survivor_id: uuid.UUID
    device_id: uuid.UUID
    decoy: bool

    @property
    def actor(self) -> Actor:
        return Actor("survivor", self.survivor_id)


@dataclass(frozen=True, slots=True)
class PartnerPrincipal:
    """A partner agency's API key. It reaches only partner endpoints, as its own agency."""

    agency_id: uuid.UUID
    key_id: str
    scopes: frozenset[str]

    @property
    def actor(self) -> Actor:
        return Actor("partner", self.agency_id)


Principal = StaffPrincipal | PendingStaffPrincipal | SurvivorPrincipal | PartnerPrincipal
