"""Shared test factories for identity and access: staff, survivors, partner agencies.

Every helper writes through the given session (flushes, never commits) and uses the runtime's
clock, hasher, key ring and vault, so rows look exactly like those the services create.
Signatures are stable: other test packages import these.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from auth.authn import (
    PARTNER_PREFIX,
    STAFF_PREFIX,
    SURVIVOR_ACCESS_PREFIX,
    new_token,
)
from auth.deps import AttemptDeps, AuthDeps
from auth.partners.models import PartnerAgency, PartnerApiKey
from auth.staff.models import StaffMember, StaffSession
from auth.survivors import decoys
from auth.survivors.models import Survivor, SurvivorDevice
from core.crypto import random_token, token_digest
from core.ids import new_id
from core.runtime import Runtime

# Credentials the factories set, so tests can log in with them.
STAFF_PASSWORD = "correct horse battery staple 42"
SURVIVOR_PIN = "482915"
SURVIVOR_DURESS_PIN = "731064"


def auth_deps(runtime: Runtime) -> AuthDeps:
    """Auth's collaborators from ``runtime``, as the composition root builds them
    (``api.wiring.wire``), for a test that calls a service without wiring the runtime."""
    return AuthDeps(
        settings=runtime.settings,
        keyring=runtime.keyring,
        vault=runtime.vault,
        hasher=runtime.hasher,
        attempts=AttemptDeps(runtime.keyring, runtime.session_factory),
    )


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_staff(
    session: Session,
    runtime: Runtime,
    role: str = "advocate",
    enrolled: bool = True,
) -> tuple[StaffMember, str]:
    """A staff member (password ``STAFF_PASSWORD``) and a full session's ``st_`` token.

    ``enrolled=False`` leaves TOTP unenrolled and returns an ``enroll``-stage session token.
    """
    now = runtime.clock.now()
    member = StaffMember(
        id=new_id(),
        email=f"staff-{secrets.token_hex(6)}@lantern.test",
        display_name=f"{role.title()} {secrets.token_hex(2)}",
        role=role,
        password_hash=runtime.hasher.hash(STAFF_PASSWORD),
        password_changed_at=now,
        totp_secret_enc=None,
        totp_enrolled_at=now if enrolled else None,
        on_duty=False,
        created_at=now,
    )
    session.add(member)
    token, digest = new_token(STAFF_PREFIX)
    session.add(
        StaffSession(
            id=new_id(),
            staff_id=member.id,
            token_digest=digest,
            stage="full" if enrolled else "enroll",
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=runtime.settings.staff_session_hours),
            second_factor_at=now if enrolled else None,
        )
    )
    session.flush()
    return member, token


def make_survivor(
    session: Session,
    runtime: Runtime,
    advocate: StaffMember | None = None,
    decoy: bool = False,
) -> tuple[Survivor, str]:
    """A survivor (PIN ``SURVIVOR_PIN``, duress PIN ``SURVIVOR_DURESS_PIN``) with a data key,
    on ``advocate``'s caseload when given, and one device session; returns its ``sa_`` token.

    ``decoy=True`` makes that device session a duress (decoy) session.
    """
    survivor, _handle = make_survivor_account(session, runtime, advocate)
    token = make_device(session, runtime, survivor.id, decoy=decoy)[1]
    return survivor, token


def make_survivor_account(
    session: Session,
    runtime: Runtime,
    advocate: StaffMember | None = None,
) -> tuple[Survivor, str]:
    """Like ``make_survivor`` but with no device session; returns the account handle, which
    logs in (POST /v1/survivor/login) with ``SURVIVOR_PIN`` or ``SURVIVOR_DURESS_PIN``."""
    now = runtime.clock.now()
    handle = random_token()
    survivor = Survivor(
        id=new_id(),
        handle_digest=token_digest(handle),
        pin_hash=runtime.hasher.hash(SURVIVOR_PIN),
        timezone="UTC",
        created_at=now,
    )
    session.add(survivor)
    session.flush()
    decoys.ensure_decoy(session, runtime.clock, survivor).pin_hash = runtime.hasher.hash(
        SURVIVOR_DURESS_PIN
    )
    if advocate is not None:
        session.add(
            CaseloadEntry(
                id=new_id(),
                survivor_id=survivor.id,
                staff_id=advocate.id,
                assigned_by=advocate.id,
                assigned_at=now,
            )
        )
    runtime.vault.ensure_key(session, survivor.id)
    session.flush()
    return survivor, handle


def make_device(
    session: Session,
    runtime: Runtime,
    survivor_id: uuid.UUID,
    decoy: bool = False,
) -> tuple[SurvivorDevice, str]:
    """Another device session for a survivor; returns it and its ``sa_`` access token.

    ``decoy=True`` opens it on the survivor's decoy account, as a duress login would.
    """
    now = runtime.clock.now()
    if decoy:
        owner = session.get(Survivor, survivor_id)
        assert owner is not None
        survivor_id = decoys.ensure_decoy(session, runtime.clock, owner).id
    token, digest = new_token(SURVIVOR_ACCESS_PREFIX)
    device = SurvivorDevice(
        id=new_id(),
        survivor_id=survivor_id,
        label_enc=None,
        decoy=decoy,
        access_digest=digest,
        access_expires_at=now + dt.timedelta(minutes=runtime.settings.survivor_access_minutes),
        created_at=now,
        last_seen_at=now,
    )
    session.add(device)
    session.flush()
    return device, token


def make_agency(
    session: Session,
    runtime: Runtime,
    name: str = "Police",
    kind: str = "police",
    scopes: Iterable[str] = ("alerts:read", "events:write"),
) -> tuple[PartnerAgency, str]:
    """A partner agency and one live API key; returns the key as ``pk_<keyid>.<secret>``."""
    now = runtime.clock.now()
    agency = PartnerAgency(id=new_id(), name=name, kind=kind, created_at=now)
    session.add(agency)
    session.flush()
    return agency, make_partner_key(session, runtime, agency, scopes)


def make_partner_key(
    session: Session, runtime: Runtime, agency: PartnerAgency, scopes: Iterable[str]
) -> str:
    """A further live key of ``agency``; returns it as ``pk_<keyid>.<secret>``."""
    key_id = secrets.token_hex(8)
    secret = random_token(32)
    session.add(
        PartnerApiKey(
            id=new_id(),
            agency_id=agency.id,
            key_id=key_id,
            secret_digest=token_digest(secret),
            scopes=list(scopes),
            created_at=runtime.clock.now(),
        )
    )
    session.flush()
    return f"{PARTNER_PREFIX}{key_id}.{secret}"
