"""Partner agencies: registered and managed by admins only, and the partner's own view.

Disabling an agency revokes every key it holds (``auth.partners.keys``), so that a later
re-enable could never bring an old, possibly leaked secret back to life.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import require_partner, require_staff
from auth.partners.models import PartnerAgency, PartnerApiKey
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


# --- agencies -------------------------------------------------------------------------------


def find_agency(session: Session, agency_id: uuid.UUID) -> PartnerAgency:
    """The agency (disabled or not), or NotFound."""
    agency = session.get(PartnerAgency, agency_id)
    if agency is None:
        raise NotFound("No such agency.")
    return agency


def create_agency(
    session: Session, clock: Clock, principal: Any, data: dict[str, Any]
) -> PartnerAgency:
    """Register a partner agency (admins only)."""
    admin = require_staff(principal, "admin")
    agency = PartnerAgency(
        id=new_id(),
        name=data["name"],
        kind=data["kind"],
        contact=data.get("contact"),
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


def list_agencies(session: Session, principal: Any) -> list[PartnerAgency]:
    """Every agency, disabled ones included, by name."""
    require_staff(principal, "admin")
    return list(
        session.scalars(select(PartnerAgency).order_by(PartnerAgency.name, PartnerAgency.id))
    )


def get_agency(session: Session, principal: Any, agency_id: uuid.UUID) -> PartnerAgency:
    require_staff(principal, "admin")
    return find_agency(session, agency_id)


def update_agency(
    session: Session, clock: Clock, principal: Any, agency_id: uuid.UUID, data: dict[str, Any]
) -> PartnerAgency:
    """Change an agency's name, kind or contact (only the fields given)."""
    admin = require_staff(principal, "admin")
    agency = find_agency(session, agency_id)
    changed = sorted(field for field in ("name", "kind", "contact") if field in data)
    for field in changed:
        setattr(agency, field, data[field])
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
    session: Session, clock: Clock, principal: Any, agency_id: uuid.UUID
) -> PartnerAgency:
    """Disable an agency and revoke all its keys; disabling twice changes nothing."""
    admin = require_staff(principal, "admin")
    agency = find_agency(session, agency_id)
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


def describe_partner(session: Session, principal: Any) -> dict[str, Any]:
    """Who the calling key is: its agency and its scopes."""
    partner = require_partner(principal)
    agency = find_agency(session, partner.agency_id)
    return {
        "agency_id": agency.id,
        "name": agency.name,
        "kind": agency.kind,
        "key_id": partner.key_id,
        "scopes": sorted(partner.scopes),
    }
