"""The one module that decides who may touch which survivor.

- A survivor reaches their own record only.
- An advocate or supervisor reaches a survivor on their caseload.
- A supervisor may also read one survivor's record through a recorded break-glass grant.
- Admins manage accounts and agencies and never reach survivor content.
- Partner keys reach partner endpoints only, as their own agency.

Two steps, in this order. Every endpoint declares who may call it (an access rule below:
survivor, staff of some roles, a staff session still enrolling, a partner key with a scope),
and ``web.access`` checks that rule right after authentication, before the body or query is
parsed, so that nobody learns a route's schema without the right to call it. The services then
decide which survivor's record the caller reaches (``require_survivor_access``; staff in every
domain through ``require_staff_access``). A refusal for a survivor the caller may not see is a
404, so that ids cannot be probed. Every staff access to survivor data is written to the audit
log here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.models import BreakGlassGrant, CaseloadEntry
from auth.principals import (
    PartnerPrincipal,
    PendingStaffPrincipal,
    Principal,
    StaffPrincipal,
    SurvivorPrincipal,
)
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.errors import Forbidden, LanternError, NotFound

STEP_UP_WINDOW = dt.timedelta(minutes=15)


class StepUpRequired(LanternError):
    """A sensitive action needs a fresh second-factor code (POST /v1/staff/step-up)."""

    status = 401
    type_slug = "step-up-required"
    title = "A fresh authentication code is required"


class TotpEnrollmentRequired(LanternError):
    status = 403
    type_slug = "totp-enrollment-required"
    title = "Two-factor enrolment required"


@dataclass(frozen=True, slots=True)
class SurvivorAccess:
    """Granted access to one survivor's record, and how it was granted."""

    survivor_id: uuid.UUID
    via: str  # self, caseload, break_glass
    principal: StaffPrincipal | SurvivorPrincipal

    @property
    def is_staff(self) -> bool:
        return isinstance(self.principal, StaffPrincipal)

    @property
    def decoy(self) -> bool:
        return isinstance(self.principal, SurvivorPrincipal) and self.principal.decoy

    @property
    def actor(self) -> audit.Actor:
        return self.principal.actor


def require_staff(principal: Principal, *roles: str) -> StaffPrincipal:
    """A fully authenticated staff member, optionally of one of ``roles``."""
    if isinstance(principal, PendingStaffPrincipal):
        raise TotpEnrollmentRequired("Enrol an authenticator app before using the console.")
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("This endpoint is for staff.")
    if roles and principal.role not in roles:
        raise Forbidden("Your role does not allow this.")
    return principal


def require_fresh_second_factor(principal: StaffPrincipal, clock: Clock) -> None:
    """Step-up: sensitive actions need a code given within the last 15 minutes."""
    at = principal.second_factor_at
    if at is None or clock.now() - at > STEP_UP_WINDOW:
        raise StepUpRequired("Enter a fresh code from your authenticator app.")


def require_survivor(principal: Principal) -> SurvivorPrincipal:
    if not isinstance(principal, SurvivorPrincipal):
        raise Forbidden("This endpoint is for the survivor's app.")
    return principal


def require_partner(principal: Principal, scope: str | None = None) -> PartnerPrincipal:
    if not isinstance(principal, PartnerPrincipal):
        raise Forbidden("This endpoint is for partner agencies.")
    if scope is not None and scope not in principal.scopes:
        raise Forbidden("This API key lacks the scope for this endpoint.")
    return principal


# --- access rules: who may call an endpoint (``web.access.allow`` declares one per endpoint) --


@dataclass(frozen=True, slots=True)
class Survivors:
    """The survivor's app; a decoy (duress) session too, since it must look the same."""

    def admit(self, principal: Principal) -> SurvivorPrincipal:
        return require_survivor(principal)

    def __str__(self) -> str:
        return "survivor"


@dataclass(frozen=True, slots=True)
class Staff:
    """Fully signed-in staff (password and TOTP) of one of ``roles``; any role when empty."""

    roles: tuple[str, ...] = ()

    def admit(self, principal: Principal) -> StaffPrincipal:
        return require_staff(principal, *self.roles)

    def __str__(self) -> str:
        return f"staff: {', '.join(self.roles)}" if self.roles else "staff: any role"


@dataclass(frozen=True, slots=True)
class EnrollingStaff:
    """A staff session that may only enrol an authenticator (first login, or a started reset)."""

    def admit(self, principal: Principal) -> PendingStaffPrincipal:
        if isinstance(principal, PendingStaffPrincipal):
            return principal
        require_staff(principal)  # refuses everyone but staff with the usual answer
        raise Forbidden("Enrolment needs a login without an authenticator, or a started reset.")

    def __str__(self) -> str:
        return "staff session still enrolling TOTP"


@dataclass(frozen=True, slots=True)
class AnyStaffSession:
    """A staff member's own session, enrolled or still enrolling (who am I, log out)."""

    def admit(self, principal: Principal) -> StaffPrincipal | PendingStaffPrincipal:
        if isinstance(principal, PendingStaffPrincipal):
            return principal
        return require_staff(principal)

    def __str__(self) -> str:
        return "staff: any role, or a session still enrolling TOTP"


@dataclass(frozen=True, slots=True)
class Partners:
    """A partner agency's API key, holding ``scope`` when one is named."""

    scope: str | None = None

    def admit(self, principal: Principal) -> PartnerPrincipal:
        return require_partner(principal, self.scope)

    def __str__(self) -> str:
        return f"partner key with {self.scope}" if self.scope else "partner key"


@dataclass(frozen=True, slots=True)
class SurvivorsOrStaff:
    """Reference data for the survivor's app and the staff console (no partner, no one else)."""

    def admit(self, principal: Principal) -> SurvivorPrincipal | StaffPrincipal:
        if isinstance(principal, SurvivorPrincipal):
            return principal
        return require_staff(principal)

    def __str__(self) -> str:
        return "survivor, or staff: any role"


SURVIVOR = Survivors()
STAFF = Staff()
#: Advocates and supervisors: who works a caseload (admins never reach survivor content).
CASEWORKER = Staff(("advocate", "supervisor"))
SUPERVISOR = Staff(("supervisor",))
ADMIN = Staff(("admin",))
ENROLLING_STAFF = EnrollingStaff()
STAFF_SESSION = AnyStaffSession()
PARTNER = Partners()
SURVIVOR_OR_STAFF = SurvivorsOrStaff()


def is_on_caseload(session: Session, staff_id: uuid.UUID, survivor_id: uuid.UUID) -> bool:
    return (
        session.scalars(
            select(CaseloadEntry.id).where(
                CaseloadEntry.staff_id == staff_id, CaseloadEntry.survivor_id == survivor_id
            )
        ).first()
        is not None
    )


def advocates_of(session: Session, survivor_id: uuid.UUID) -> list[uuid.UUID]:
    """Active staff on the survivor's caseload (who is alerted about them)."""
    return list(
        session.scalars(
            select(CaseloadEntry.staff_id)
            .join(StaffMember, StaffMember.id == CaseloadEntry.staff_id)
            .where(CaseloadEntry.survivor_id == survivor_id, StaffMember.disabled_at.is_(None))
        )
    )


def caseload_of(session: Session, staff_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(select(CaseloadEntry.survivor_id).where(CaseloadEntry.staff_id == staff_id))
    )


def _active_break_glass(
    session: Session, supervisor_id: uuid.UUID, survivor_id: uuid.UUID, now: dt.datetime
) -> BreakGlassGrant | None:
    return session.scalars(
        select(BreakGlassGrant).where(
            BreakGlassGrant.supervisor_id == supervisor_id,
            BreakGlassGrant.survivor_id == survivor_id,
            BreakGlassGrant.revoked_at.is_(None),
            BreakGlassGrant.expires_at > now,
        )
    ).first()


def require_survivor_access(
    session: Session,
    clock: Clock,
    principal: Principal,
    survivor_id: uuid.UUID,
    *,
    action: str,
    write: bool = False,
    subject_kind: str | None = None,
    subject_id: uuid.UUID | None = None,
) -> SurvivorAccess:
    """Grant access to one survivor's record, or raise NotFound. Staff access is audited
    (``action`` names what was done, e.g. ``safety_plan.read``)."""
    survivor = session.get(Survivor, survivor_id)
    if survivor is None or survivor.erased_at is not None:
        raise NotFound()
    if isinstance(principal, SurvivorPrincipal):
        if principal.survivor_id != survivor_id:
            raise NotFound()
        return SurvivorAccess(survivor_id, "self", principal)
    if isinstance(principal, PendingStaffPrincipal):
        raise TotpEnrollmentRequired("Enrol an authenticator app before using the console.")
    if not isinstance(principal, StaffPrincipal) or survivor.decoy_of is not None:
        raise NotFound()  # a decoy account is nobody's case (``auth.survivors.decoys``)
    via: str | None = None
    if principal.role in ("advocate", "supervisor") and is_on_caseload(
        session, principal.staff_id, survivor_id
    ):
        via = "caseload"
    elif (
        principal.role == "supervisor"
        and not write
        and _active_break_glass(session, principal.staff_id, survivor_id, clock.now())
    ):
        via = "break_glass"
    if via is None:
        raise NotFound()
    audit.record(
        session,
        clock,
        principal.actor,
        action,
        subject_kind=subject_kind or "survivor",
        subject_id=subject_id or survivor_id,
        survivor_id=survivor_id,
        details={"via": via},
    )
    return SurvivorAccess(survivor_id, via, principal)


def require_staff_access(
    session: Session,
    clock: Clock,
    principal: Principal,
    survivor_id: uuid.UUID,
    *,
    action: str,
    write: bool = False,
    subject_kind: str | None = None,
    subject_id: uuid.UUID | None = None,
) -> SurvivorAccess:
    """The one check of a staff member reaching a survivor's record, for every domain.

    Denied by default: only a fully signed-in advocate or supervisor (else 403), and only for a
    survivor on their caseload, or read-only through a supervisor's live break-glass grant;
    anyone else, an erased survivor and a decoy account (nobody's case) are a 404. Audited
    under ``action``, naming ``subject_kind``/``subject_id`` when one object is touched.
    """
    staff = require_staff(principal, *CASEWORKER.roles)
    return require_survivor_access(
        session,
        clock,
        staff,
        survivor_id,
        action=action,
        write=write,
        subject_kind=subject_kind,
        subject_id=subject_id,
    )
