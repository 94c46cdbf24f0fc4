"""Partner agencies' API keys: issued, rotated and revoked by admins only.

A key is ``pk_<key id>.<secret>``: the key id is public (it names the key in listings and
URLs), the secret is ``random_token(32)``, shown once to the admin who issued it and stored
as ``token_digest(secret)`` (see ``auth.authn._partner``). A key authenticates only as its own
agency and carries scopes from ``PARTNER_SCOPES``.

Rotation issues a new key with the same scopes and leaves the old one valid for
``ROTATION_GRACE`` so that the agency can deploy the new secret without an outage; revocation
stops a key at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.authn import PARTNER_PREFIX
from auth.partners.agencies import get_agency
from auth.partners.models import PartnerAgency, PartnerApiKey
from auth.principals import StaffPrincipal
from core import audit
from core.clock import Clock
from core.crypto import random_token, token_digest
from core.errors import Conflict, NotFound
from core.ids import new_id

# The scope vocabulary. A partner endpoint names the one scope it needs in its access rule
# (``@allow(Partners("alerts:read"))``).
PARTNER_SCOPES: dict[str, str] = {
    "alerts:read": "Read the alerts that survivors have consented to share with this agency.",
    "alerts:ack": "Acknowledge that an alert was received and acted on.",
    "events:write": (
        "Send events about the abuser: release from custody, order served or breached, "
        "programme attendance."
    ),
}

# How long a rotated key keeps working next to its replacement.
ROTATION_GRACE = dt.timedelta(hours=24)
MAX_KEY_DAYS = 730


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just issued: ``api_key`` is the only time the secret leaves the server."""

    key: PartnerApiKey
    api_key: str
    replaces: PartnerApiKey | None = None


def key_status(key: PartnerApiKey, now: dt.datetime) -> str:
    """``active``, ``rotating`` (replaced, in its grace period), ``expired`` or ``revoked``."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    if key.replaced_by is not None:
        return "rotating"
    return "active"


# --- keys -----------------------------------------------------------------------------------


def _live_agency(session: Session, agency_id: uuid.UUID) -> PartnerAgency:
    agency = get_agency(session, agency_id)
    if agency.disabled_at is not None:
        raise Conflict("This agency is disabled; it cannot hold new keys.")
    return agency


def _key(session: Session, agency_id: uuid.UUID, key_id: str) -> PartnerApiKey:
    # The agency is part of the lookup: a key id under another agency's URL is not found.
    key = session.scalars(
        select(PartnerApiKey).where(
            PartnerApiKey.key_id == key_id, PartnerApiKey.agency_id == agency_id
        )
    ).one_or_none()
    if key is None:
        raise NotFound("No such key.")
    return key


def _new_key(
    session: Session,
    clock: Clock,
    agency_id: uuid.UUID,
    scopes: list[str],
    lifetime: dt.timedelta | None,
) -> IssuedKey:
    now = clock.now()
    secret = random_token(32)
    key = PartnerApiKey(
        id=new_id(),
        agency_id=agency_id,
        # Public and random; hex so that it is safe in URLs and never contains the '.'
        # that separates it from the secret.
        key_id=new_id().hex,
        secret_digest=token_digest(secret),
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=now + lifetime if lifetime is not None else None,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, api_key=f"{PARTNER_PREFIX}{key.key_id}.{secret}")


def issue_key(
    session: Session,
    clock: Clock,
    admin: StaffPrincipal,
    agency_id: uuid.UUID,
    scopes: list[str],
    expires_in_days: int | None = None,
) -> IssuedKey:
    """A new key for the agency; the secret is in the result and nowhere else."""
    agency = _live_agency(session, agency_id)
    lifetime = dt.timedelta(days=expires_in_days) if expires_in_days else None
    issued = _new_key(session, clock, agency.id, scopes, lifetime)
    audit.record(
        session,
        clock,
        admin.actor,
        "partner_key.issue",
        subject_kind="partner_agency",
        subject_id=agency.id,
        details={"key_id": issued.key.key_id, "scopes": issued.key.scopes},
    )
    return issued


def list_keys(session: Session, agency_id: uuid.UUID) -> list[PartnerApiKey]:
    """The agency's keys, newest first, without secrets."""
    agency = get_agency(session, agency_id)
    return list(
        session.scalars(
            select(PartnerApiKey)
            .where(PartnerApiKey.agency_id == agency.id)
            .order_by(PartnerApiKey.created_at.desc(), PartnerApiKey.key_id)
        )
    )


def successor_key_ids(session: Session, keys: list[PartnerApiKey]) -> dict[uuid.UUID, str]:
    """Public key ids of the keys that replaced ``keys`` (row id -> key id)."""
    wanted = {k.replaced_by for k in keys if k.replaced_by is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(PartnerApiKey.id, PartnerApiKey.key_id).where(PartnerApiKey.id.in_(wanted))
    )
    return {row_id: key_id for row_id, key_id in rows}


def rotate_key(
    session: Session, clock: Clock, admin: StaffPrincipal, agency_id: uuid.UUID, key_id: str
) -> IssuedKey:
    """Replace a live key: same scopes and lifetime; the old key ends after the grace period."""
    agency = _live_agency(session, agency_id)
    old = _key(session, agency.id, key_id)
    now = clock.now()
    status = key_status(old, now)
    if status == "rotating":
        raise Conflict("This key was already rotated; rotate its replacement instead.")
    if status != "active":
        raise Conflict("This key no longer works; issue a new one instead.")
    lifetime = old.expires_at - old.created_at if old.expires_at is not None else None
    issued = _new_key(session, clock, agency.id, list(old.scopes), lifetime)
    grace_end = now + ROTATION_GRACE
    old.expires_at = min(old.expires_at, grace_end) if old.expires_at is not None else grace_end
    old.replaced_by = issued.key.id
    session.flush()
    audit.record(
        session,
        clock,
        admin.actor,
        "partner_key.rotate",
        subject_kind="partner_agency",
        subject_id=agency.id,
        details={"key_id": old.key_id, "new_key_id": issued.key.key_id},
    )
    return IssuedKey(key=issued.key, api_key=issued.api_key, replaces=old)


def revoke_key(
    session: Session, clock: Clock, admin: StaffPrincipal, agency_id: uuid.UUID, key_id: str
) -> PartnerApiKey:
    """Stop a key at once (its grace period too); revoking twice changes nothing."""
    key = _key(session, get_agency(session, agency_id).id, key_id)
    if key.revoked_at is not None:
        return key
    key.revoked_at = clock.now()
    session.flush()
    audit.record(
        session,
        clock,
        admin.actor,
        "partner_key.revoke",
        subject_kind="partner_agency",
        subject_id=key.agency_id,
        details={"key_id": key.key_id},
    )
    return key
