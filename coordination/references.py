"""Pseudonymous references: each agency knows a survivor by a reference of its own.

The reference is a keyed HMAC of (agency, survivor) under a purpose key, so two agencies'
references for one survivor share nothing and cannot be joined, and nobody without the index
key can compute one. A table keeps the reference so that an inbound event can be mapped back,
always scoped to the agency that sent it: another agency's reference finds nothing.
"""

from __future__ import annotations

import base64
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coordination.models import AgencyReference
from core.clock import Clock
from core.crypto import KeyRing, constant_time_equals
from core.ids import new_id

PREFIX = "ref_"


def reference_for(keyring: KeyRing, agency_id: uuid.UUID, survivor_id: uuid.UUID) -> str:
    """``ref_`` and 26 base32 characters (130 bits) of HMAC(agency-ref key, agency|survivor)."""
    digest = keyring.keyed_digest("agency-ref", f"{agency_id}|{survivor_id}")
    return PREFIX + base64.b32encode(bytes.fromhex(digest)).decode().lower()[:26]


def ensure_reference(
    session: Session,
    clock: Clock,
    keyring: KeyRing,
    agency_id: uuid.UUID,
    survivor_id: uuid.UUID,
) -> str:
    """The agency's reference for the survivor, stored for reverse lookup on first use."""
    reference = reference_for(keyring, agency_id, survivor_id)
    existing = session.scalars(
        select(AgencyReference.id).where(
            AgencyReference.agency_id == agency_id, AgencyReference.survivor_id == survivor_id
        )
    ).first()
    if existing is None:
        try:
            with session.begin_nested():  # two fan-outs at once: the loser keeps the winner's
                session.add(
                    AgencyReference(
                        id=new_id(),
                        agency_id=agency_id,
                        survivor_id=survivor_id,
                        reference=reference,
                        created_at=clock.now(),
                    )
                )
        except IntegrityError:
            pass
    return reference


def resolve_reference(
    session: Session, keyring: KeyRing, agency_id: uuid.UUID, reference: str
) -> uuid.UUID | None:
    """The survivor behind ``reference`` for this agency only (None for anyone else's)."""
    row = session.scalars(
        select(AgencyReference).where(
            AgencyReference.agency_id == agency_id, AgencyReference.reference == reference
        )
    ).one_or_none()
    if row is None:
        return None
    # Recompute: a row copied between agencies in the database would not match.
    expected = reference_for(keyring, agency_id, row.survivor_id)
    return row.survivor_id if constant_time_equals(expected, reference) else None
