"""Partner agencies: registered and managed by admins only, and the partner's own view.

Disabling an agency revokes every key it holds (``auth.partners.keys``), so that a later
re-enable could never bring an old, possibly leaked secret back to life.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.partners.models import PartnerAgency, PartnerApiKey
from auth.principals import PartnerPrincipal, StaffPrincipal
from core import audit
from core.clock import Clock
from core.errors import NotFound
from core.ids import new_id

AGENCY_KINDS: tuple[str, ...] = (
    "police",
    "probation",
    "court",
    "refuge",
    "health",
    "childrens_services",
    "housing",
    "perpetrator_programme",
    "other",
)


class AgencyChanges(TypedDict, total=False):
    """The fields an admin changes (``AgencyUpdateSchema``); a field left out is kept."""

    name: str
    kind: str
    contact: str | None


@dataclass(frozen=True, slots=True)
class PartnerIdentity:
    """Who a partner key is: its agency and its scopes (``PartnerMeSchema``)."""

    agency_id: uuid.UUID
    name: str
    kind: str
    key_id: str
    scopes: list[str]


# --- agencies -------------------------------------------------------------------------------


def get_agency(session: Session, agency_id: uuid.UUID) -> PartnerAgency:
    """The agency (disabled or not), or NotFound."""
    agency = session.get(PartnerAgency, agency_id)
    if agency is None:
        raise NotFound("No such agency.")
    return agency


def create_agency(
    session: Session,
    clock: Clock,
    admin: StaffPrincipal,
    *,
    name: str,
    kind: str,
    contact: str | None = None,
) -> PartnerAgency:
    """Register a partner agency."""
    agency = PartnerAgency(
        id=new_id(),
        name=name,
        kind=kind,
        contact=contact,
        created_at=clock.now(),
    )
    session.add(agency)
    session.flush()
    audit.record(
        session,
        clock,
        admin.actor,
        "agency.create",
        subject_kind="partner_agency",
        subject_id=agency.id,
        details={"kind": agency.kind},
    )
    return agency


def list_agencies(session: Session) -> list[PartnerAgency]:
    """Every agency, disabled ones included, by name."""
    return list(
        session.scalars(select(PartnerAgency).order_by(PartnerAgency.name, PartnerAgency.id))
    )


def update_agency(
    session: Session,
    clock: Clock,
    admin: StaffPrincipal,
    agency_id: uuid.UUID,
    changes: AgencyChanges,
) -> PartnerAgency:
    """Change an agency's name, kind or contact (only the fields given)."""
    agency = get_agency(session, agency_id)
    given: dict[str, object] = dict(changes)
    changed = sorted(field for field in ("name", "kind", "contact") if field in given)
    for field in changed:
        setattr(agency, field, given[field])
    session.flush()
    audit.record(
        session,
        clock,
        admin.actor,
        "agency.update",
        subject_kind="partner_agency",
        subject_id=agency.id,
        details={"fields": changed},
    )
    return agency


def disable_agency(
    session: Session, clock: Clock, admin: StaffPrincipal, agency_id: uuid.UUID
) -> PartnerAgency:
    """Disable an agency and revoke all its keys; disabling twice changes nothing."""
    agency = get_agency(session, agency_id)
    if agency.disabled_at is not None:
        return agency
    now = clock.now()
    agency.disabled_at = now
    revoked = 0
    for key in session.scalars(
        select(PartnerApiKey).where(
            PartnerApiKey.agency_id == agency.id, PartnerApiKey.revoked_at.is_(None)
        )
    ):
        key.revoked_at = now
        revoked += 1
    session.flush()
    audit.record(
        session,
        clock,
        admin.actor,
        "agency.disable",
        subject_kind="partner_agency",
        subject_id=agency.id,
        details={"keys_revoked": revoked},
    )
    return agency


# --- the partner's own view -----------------------------------------------------------------


def describe_partner(session: Session, partner: PartnerPrincipal) -> PartnerIdentity:
    """Who the calling key is: its agency and its scopes."""
    agency = get_agency(session, partner.agency_id)
    return PartnerIdentity(
        agency_id=agency.id,
        name=agency.name,
        kind=agency.kind,
        key_id=partner.key_id,
        scopes=sorted(partner.scopes),
    )
