"""The disclosure log: every alert delivered, event received and non-consented share, with
the consent or lawful basis it relied on. The survivor lists their own; advocates their
caseload's. A decoy session reads its decoy account's log: nothing is ever disclosed about a
decoy account, but where a real account's log would show a welfare check sent to the agency
it consented to, so does the decoy's (``coordination.decoy_disclosures``)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from auth.partners.models import PartnerAgency
from coordination.consents import purpose_of
from coordination.deps import CoordinationDeps
from coordination.models import Consent, Delivery, Disclosure, LawfulShare
from coordination.vocab import ALERT_CONSENT_KIND
from core.clock import Clock
from core.ids import new_id

MAX_LISTED = 500


@dataclass(frozen=True, slots=True)
class DisclosureView:
    """One line of the log, with the agency and the reason in plain terms (``DisclosureSchema``)."""

    id: uuid.UUID
    agency_id: uuid.UUID
    agency_name: str
    agency_kind: str
    direction: str  # out (shared) or in (received)
    what: str  # alert, event, lawful_share
    kind: str
    occurred_at: dt.datetime
    basis: str
    consent_id: uuid.UUID | None
    purpose: str | None
    lawful_basis: str | None


def record(
    session: Session,
    clock: Clock,
    *,
    survivor_id: uuid.UUID,
    agency_id: uuid.UUID,
    direction: str,
    what: str,
    kind: str,
    basis: str,
    subject_id: uuid.UUID,
    consent_id: uuid.UUID | None = None,
    lawful_share_id: uuid.UUID | None = None,
) -> Disclosure:
    """Add one line to the log in the caller's transaction."""
    row = Disclosure(
        id=new_id(),
        survivor_id=survivor_id,
        agency_id=agency_id,
        direction=direction,
        what=what,
        kind=kind,
        basis=basis,
        consent_id=consent_id,
        lawful_share_id=lawful_share_id,
        subject_id=subject_id,
        occurred_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def record_alert(session: Session, clock: Clock, delivery: Delivery, kind: str) -> None:
    """Log an alert's first disclosure to its agency, with the consent or share it relied on."""
    record_alert_to(
        session,
        clock,
        survivor_id=delivery.survivor_id,
        agency_id=delivery.agency_id,
        kind=kind,
        subject_id=delivery.id,
        consent_id=delivery.consent_id,
        lawful_share_id=delivery.lawful_share_id,
    )


def record_alert_to(
    session: Session,
    clock: Clock,
    *,
    survivor_id: uuid.UUID,
    agency_id: uuid.UUID,
    kind: str,
    subject_id: uuid.UUID,
    consent_id: uuid.UUID | None,
    lawful_share_id: uuid.UUID | None,
) -> Disclosure:
    """The line an alert of ``kind`` sent to ``agency_id`` writes, whatever carried it."""
    return record(
        session,
        clock,
        survivor_id=survivor_id,
        agency_id=agency_id,
        direction="out",
        what="alert",
        # A duress alert is logged as the welfare check it was consented as: the survivor's
        # log may be read under coercion and must not show that a duress PIN was used.
        kind=ALERT_CONSENT_KIND[kind],
        basis="consent" if consent_id else _share_basis(session, lawful_share_id),
        subject_id=subject_id,
        consent_id=consent_id,
        lawful_share_id=lawful_share_id,
    )


def _share_basis(session: Session, lawful_share_id: uuid.UUID | None) -> str:
    share = session.get(LawfulShare, lawful_share_id) if lawful_share_id else None
    return share.basis if share else "unknown"


def list_for(
    session: Session, access: SurvivorAccess, deps: CoordinationDeps
) -> list[DisclosureView]:
    """The survivor's disclosure log, newest first, with agency and reason in plain terms."""
    rows = session.scalars(
        select(Disclosure)
        .where(Disclosure.survivor_id == access.survivor_id)
        .order_by(Disclosure.occurred_at.desc(), Disclosure.id)
        .limit(MAX_LISTED)
    ).all()
    agencies: dict[uuid.UUID, PartnerAgency | None] = {}
    out = []
    for row in rows:
        if row.agency_id not in agencies:
            agencies[row.agency_id] = session.get(PartnerAgency, row.agency_id)
        agency = agencies[row.agency_id]
        purpose = None
        if row.consent_id is not None:
            consent = session.get(Consent, row.consent_id)
            purpose = purpose_of(session, deps, consent) if consent else None
        share = session.get(LawfulShare, row.lawful_share_id) if row.lawful_share_id else None
        out.append(
            DisclosureView(
                id=row.id,
                agency_id=row.agency_id,
                agency_name=agency.name if agency else "",
                agency_kind=agency.kind if agency else "",
                direction=row.direction,
                what=row.what,
                kind=row.kind,
                occurred_at=row.occurred_at,
                basis=row.basis,
                consent_id=row.consent_id,
                purpose=purpose,
                lawful_basis=share.basis if share else None,
            )
        )
    return out
