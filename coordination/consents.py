"""Consents: which agency may hear which kinds of news about a survivor, why, and until when.

A consent always has an expiry (90 days offered, 12 months at most). The survivor sees the
plain-language text before agreeing and gets a receipt whose hash covers exactly what was
agreed (that text and every field). A consent recorded by an advocate is inactive until the
survivor confirms it in the app. Revocation takes effect at once: deliveries still queued
under the consent are cancelled in the same transaction, and every delivery re-checks its
consent before it is sent. A decoy (duress) session keeps consents on its decoy account
(``auth.survivors.decoys``), which read back like any and never let an agency hear anything.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from auth.partners.models import PartnerAgency
from coordination.consent_terms import ConsentTerms as ConsentTerms
from coordination.consent_terms import terms as terms
from coordination.deps import CoordinationDeps
from coordination.models import Consent, Delivery
from core import audit
from core.clock import Clock
from core.crypto import Binding
from core.errors import Conflict, NotFound
from core.ids import new_id

TABLE = "coordination_consents"
PENDING, ACTIVE, REVOKED = "pending_confirmation", "active", "revoked"


@dataclass(frozen=True, slots=True)
class Receipt:
    """Exactly what was agreed, and the hash that proves it."""

    text: str
    hash: str


@dataclass(frozen=True, slots=True)
class ConsentView:
    """A consent as the app and the console show it (``ConsentSchema``)."""

    id: uuid.UUID
    agency_id: uuid.UUID
    agency_name: str
    agency_kind: str
    kinds: list[str]
    purpose: str
    given_via: str
    state: str
    starts_at: dt.datetime
    expires_at: dt.datetime
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    revoked_at: dt.datetime | None
    receipt: Receipt


def preview(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    *,
    agency_id: uuid.UUID,
    kinds: list[str],
    purpose: str,
    expires_at: dt.datetime | None,
) -> ConsentTerms:
    """The text the app must show before the survivor agrees, and its hash."""
    return terms(session, clock, access.survivor_id, agency_id, kinds, purpose, expires_at)


def agencies_for(session: Session, access: SurvivorAccess) -> list[PartnerAgency]:
    """Agencies the survivor may choose from."""
    return list(
        session.scalars(
            select(PartnerAgency)
            .where(PartnerAgency.disabled_at.is_(None))
            .order_by(PartnerAgency.name, PartnerAgency.id)
        )
    )


def _create(
    session: Session,
    clock: Clock,
    deps: CoordinationDeps,
    t: ConsentTerms,
    *,
    given_via: str,
    recorded_by: uuid.UUID | None,
    actor: audit.Actor,
) -> Consent:
    consent_id = new_id()
    consent = Consent(
        id=consent_id,
        survivor_id=t.survivor_id,
        agency_id=t.agency.id,
        kinds=list(t.kinds),
        purpose_enc=deps.vault.seal(
            session, Binding(TABLE, "purpose_enc", consent_id, t.survivor_id), t.purpose
        ),
        text_enc=deps.vault.seal(
            session, Binding(TABLE, "text_enc", consent_id, t.survivor_id), t.text
        ),
        receipt_hash=t.text_hash,
        given_via=given_via,
        state=ACTIVE if given_via == "app" else PENDING,
        recorded_by=recorded_by,
        starts_at=t.starts_at,
        expires_at=t.expires_at,
        created_at=clock.now(),
        confirmed_at=clock.now() if given_via == "app" else None,
    )
    session.add(consent)
    session.flush()
    audit.record(
        session,
        clock,
        actor,
        "consent.given" if given_via == "app" else "consent.recorded",
        subject_kind="consent",
        subject_id=consent.id,
        survivor_id=t.survivor_id,
        details={"agency_id": str(t.agency.id), "kinds": list(t.kinds), "via": given_via},
    )
    return consent


def give(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    agency_id: uuid.UUID,
    kinds: list[str],
    purpose: str,
    expires_at: dt.datetime,
    text_hash: str,
) -> Consent:
    """The survivor agrees in the app to the text they were shown (``text_hash``)."""
    t = terms(session, clock, access.survivor_id, agency_id, kinds, purpose, expires_at)
    if t.text_hash != text_hash:
        raise Conflict("The consent text has changed since it was shown: show it again.")
    return _create(session, clock, deps, t, given_via="app", recorded_by=None, actor=access.actor)


def record_for_survivor(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    agency_id: uuid.UUID,
    kinds: list[str],
    purpose: str,
    expires_at: dt.datetime,
) -> Consent:
    """An advocate records a consent given in person; it waits for the survivor's confirmation."""
    t = terms(session, clock, access.survivor_id, agency_id, kinds, purpose, expires_at)
    recorder = access.actor.id
    return _create(
        session,
        clock,
        deps,
        t,
        given_via="advocate_recorded",
        recorded_by=recorder,
        actor=access.actor,
    )


def _own(session: Session, survivor_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
    # Locked and read afresh: a confirmation in the app and a withdrawal recorded by staff at
    # the same moment must not both act on "pending", or the confirmation writes "active"
    # over the withdrawal and alerts flow to the agency after the survivor said no.
    consent = session.get(Consent, consent_id, with_for_update=True, populate_existing=True)
    if consent is None or consent.survivor_id != survivor_id:
        raise NotFound()
    return consent


def confirm(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    *,
    consent_id: uuid.UUID,
    receipt_hash: str,
) -> Consent:
    """The survivor confirms, in the app, a consent an advocate recorded."""
    consent = _own(session, access.survivor_id, consent_id)
    if consent.state != PENDING:
        raise Conflict("This consent is not waiting for confirmation.")
    if consent.expires_at <= clock.now():
        raise Conflict("This consent has expired.")
    if consent.receipt_hash != receipt_hash:
        raise Conflict("The consent text differs from what was shown: show it again.")
    consent.state = ACTIVE
    consent.confirmed_at = clock.now()
    audit.record(
        session,
        clock,
        access.actor,
        "consent.confirmed",
        subject_kind="consent",
        subject_id=consent.id,
        survivor_id=consent.survivor_id,
    )
    session.flush()
    return consent


def revoke(
    session: Session, access: SurvivorAccess, clock: Clock, *, consent_id: uuid.UUID
) -> Consent:
    """Withdraw a consent now; queued deliveries under it are cancelled in this transaction."""
    consent = _own(session, access.survivor_id, consent_id)
    if consent.state == REVOKED:
        return consent
    now = clock.now()
    consent.state = REVOKED
    consent.revoked_at = now
    consent.revoked_by_kind = access.actor.kind
    consent.revoked_by_id = access.actor.id
    cancelled = session.execute(
        update(Delivery)
        .where(Delivery.consent_id == consent.id, Delivery.state == "pending")
        .values(state="cancelled", cancelled_reason="consent_revoked", finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        clock,
        access.actor,
        "consent.revoked",
        subject_kind="consent",
        subject_id=consent.id,
        survivor_id=consent.survivor_id,
        details={"cancelled_deliveries": int(cancelled or 0)},
    )
    session.flush()
    session.expire_all()
    return session.get(Consent, consent_id) or consent


def state_of(consent: Consent, now: dt.datetime) -> str:
    """pending_confirmation, active, not_started, expired or revoked, as of ``now``."""
    if consent.state == REVOKED:
        return REVOKED
    if consent.expires_at <= now:
        return "expired"
    if consent.state == PENDING:
        return PENDING
    if consent.starts_at > now:
        return "not_started"
    return ACTIVE


def covering_consent(
    session: Session, survivor_id: uuid.UUID, agency_id: uuid.UUID, kind: str, now: dt.datetime
) -> Consent | None:
    """The survivor's consent in force now that lets ``agency_id`` hear ``kind``, if any."""
    for consent in session.scalars(
        select(Consent)
        .where(
            Consent.survivor_id == survivor_id,
            Consent.agency_id == agency_id,
            Consent.state == ACTIVE,
            Consent.starts_at <= now,
            Consent.expires_at > now,
        )
        .order_by(Consent.created_at)
    ):
        if kind in consent.kinds:
            return consent
    return None


def consents_in_force(session: Session, survivor_id: uuid.UUID, now: dt.datetime) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent).where(
                Consent.survivor_id == survivor_id,
                Consent.state == ACTIVE,
                Consent.starts_at <= now,
                Consent.expires_at > now,
            )
        )
    )


def list_for(session: Session, access: SurvivorAccess) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent)
            .where(Consent.survivor_id == access.survivor_id)
            .order_by(Consent.created_at.desc(), Consent.id)
        )
    )


def view(session: Session, clock: Clock, deps: CoordinationDeps, consent: Consent) -> ConsentView:
    """A consent as the app and the console show it, receipt included."""
    agency = session.get(PartnerAgency, consent.agency_id)
    return ConsentView(
        id=consent.id,
        agency_id=consent.agency_id,
        agency_name=agency.name if agency else "",
        agency_kind=agency.kind if agency else "",
        kinds=consent.kinds,
        purpose=purpose_of(session, deps, consent),
        given_via=consent.given_via,
        state=state_of(consent, clock.now()),
        starts_at=consent.starts_at,
        expires_at=consent.expires_at,
        created_at=consent.created_at,
        confirmed_at=consent.confirmed_at,
        revoked_at=consent.revoked_at,
        receipt=Receipt(
            deps.vault.open_text(
                session,
                Binding(TABLE, "text_enc", consent.id, consent.survivor_id),
                consent.text_enc,
            ),
            consent.receipt_hash,
        ),
    )


def purpose_of(session: Session, deps: CoordinationDeps, consent: Consent) -> str:
    return deps.vault.open_text(
        session,
        Binding(TABLE, "purpose_enc", consent.id, consent.survivor_id),
        consent.purpose_enc,
    )
