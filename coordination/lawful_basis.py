"""Sharing without consent (UK MARAC: vital interests or the safeguarding condition).

A deliberate, two-person act: an advocate records the lawful basis, the kinds, the agency, how
long, and the reasoning (sealed); a different supervisor approves it. Only then may alerts of
those kinds reach that agency, until the share ends. The survivor is told unless the record
says why telling them would be unsafe (that reason is sealed too).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, advocates_of
from auth.partners.models import PartnerAgency
from coordination import disclosures
from coordination.deps import CoordinationDeps
from coordination.models import Delivery, LawfulShare, SurvivorNotice
from coordination.vocab import ALERT_CONSENT_KIND, CONSENT_KINDS, LAWFUL_BASES
from core import audit, notices
from core.clock import Clock
from core.crypto import Binding
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ids import new_id

TABLE = "coordination_lawful_shares"
MAX_HOURS = 24 * 30

PENDING, APPROVED, REJECTED, WITHDRAWN = "pending", "approved", "rejected", "withdrawn"


@dataclass(frozen=True, slots=True)
class LawfulShareView:
    """A share without consent as the console shows it (``LawfulShareSchema``)."""

    id: uuid.UUID
    agency_id: uuid.UUID
    kinds: list[str]
    basis: str
    reasoning: str
    tell_survivor: bool
    not_telling_reason: str | None
    duration_hours: int
    state: str
    requested_by: uuid.UUID
    decided_by: uuid.UUID | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    valid_until: dt.datetime | None


def covering_share(
    session: Session, survivor_id: uuid.UUID, agency_id: uuid.UUID, kind: str, now: dt.datetime
) -> LawfulShare | None:
    """An approved share in force now that lets ``agency_id`` hear ``kind``."""
    for share in session.scalars(
        select(LawfulShare).where(
            LawfulShare.survivor_id == survivor_id,
            LawfulShare.agency_id == agency_id,
            LawfulShare.state == APPROVED,
            LawfulShare.valid_until > now,
        )
    ):
        if kind in share.kinds:
            return share
    return None


def shares_in_force(
    session: Session, survivor_id: uuid.UUID, now: dt.datetime
) -> list[LawfulShare]:
    return list(
        session.scalars(
            select(LawfulShare).where(
                LawfulShare.survivor_id == survivor_id,
                LawfulShare.state == APPROVED,
                LawfulShare.valid_until > now,
            )
        )
    )


def request_share(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    agency_id: uuid.UUID,
    kinds: list[str],
    basis: str,
    reasoning: str,
    duration_hours: int,
    tell_survivor: bool,
    not_telling_reason: str | None,
) -> LawfulShare:
    """An advocate records the basis and reasoning; nothing is shared until approved."""
    agency = session.get(PartnerAgency, agency_id)
    if agency is None or agency.disabled_at is not None:
        raise NotFound("No such agency.")
    if basis not in LAWFUL_BASES:
        raise InvalidInput("Unknown lawful basis.", errors={"basis": ["Unknown."]})
    if not kinds or any(k not in CONSENT_KINDS for k in kinds):
        raise InvalidInput("Unknown or empty kinds.", errors={"kinds": ["Unknown or empty."]})
    if not 1 <= duration_hours <= MAX_HOURS:
        raise InvalidInput(
            "A share lasts 1 hour to 30 days.", errors={"duration_hours": ["Out of range."]}
        )
    if not tell_survivor and not (not_telling_reason or "").strip():
        raise InvalidInput(
            "Say why telling the survivor would be unsafe.",
            errors={"not_telling_reason": ["Required when the survivor is not told."]},
        )
    share_id = new_id()
    sid = access.survivor_id
    share = LawfulShare(
        id=share_id,
        survivor_id=sid,
        agency_id=agency_id,
        kinds=[k for k in CONSENT_KINDS if k in kinds],
        basis=basis,
        reasoning_enc=deps.vault.seal(
            session, Binding(TABLE, "reasoning_enc", share_id, sid), reasoning
        ),
        tell_survivor=tell_survivor,
        not_telling_reason_enc=(
            None
            if tell_survivor
            else deps.vault.seal(
                session,
                Binding(TABLE, "not_telling_reason_enc", share_id, sid),
                not_telling_reason or "",
            )
        ),
        duration_hours=duration_hours,
        state=PENDING,
        requested_by=access.actor.id,  # type: ignore[arg-type]
        created_at=clock.now(),
    )
    session.add(share)
    session.flush()
    audit.record(
        session,
        clock,
        access.actor,
        "lawful_share.requested",
        subject_kind="lawful_share",
        subject_id=share.id,
        survivor_id=sid,
        details={"agency_id": str(agency_id), "basis": basis, "kinds": share.kinds},
    )
    return share


def _get(session: Session, survivor_id: uuid.UUID, share_id: uuid.UUID) -> LawfulShare:
    share = session.get(LawfulShare, share_id)
    if share is None or share.survivor_id != survivor_id:
        raise NotFound()
    return share


def decide(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    *,
    share_id: uuid.UUID,
    approve: bool,
) -> LawfulShare:
    """A supervisor other than the requester approves or rejects a pending share."""
    share = _get(session, access.survivor_id, share_id)
    if share.state != PENDING:
        raise Conflict("This share has already been decided.")
    if access.actor.id == share.requested_by:
        raise Forbidden("A different person must approve a share without consent.")
    now = clock.now()
    share.state = APPROVED if approve else REJECTED
    share.decided_by = access.actor.id
    share.decided_at = now
    if approve:
        share.valid_until = now + dt.timedelta(hours=share.duration_hours)
        disclosures.record(
            session,
            clock,
            survivor_id=share.survivor_id,
            agency_id=share.agency_id,
            direction="out",
            what="lawful_share",
            kind=",".join(share.kinds)[:32],
            basis=share.basis,
            subject_id=share.id,
            lawful_share_id=share.id,
        )
        if share.tell_survivor:
            session.add(
                SurvivorNotice(
                    id=new_id(),
                    survivor_id=share.survivor_id,
                    kind="sharing_without_consent",
                    details={"agency_id": str(share.agency_id), "kinds": share.kinds},
                    created_at=now,
                )
            )
        notices.notify_staff(
            session,
            clock,
            advocates_of(session, share.survivor_id),
            "lawful_share_approved",
            urgency="high",
            survivor_id=share.survivor_id,
            details={"share_id": str(share.id)},
        )
    audit.record(
        session,
        clock,
        access.actor,
        "lawful_share.approved" if approve else "lawful_share.rejected",
        subject_kind="lawful_share",
        subject_id=share.id,
        survivor_id=share.survivor_id,
    )
    session.flush()
    return share


def withdraw(
    session: Session, access: SurvivorAccess, clock: Clock, *, share_id: uuid.UUID
) -> LawfulShare:
    """End a share (pending or approved) at once."""
    share = _get(session, access.survivor_id, share_id)
    if share.state in (PENDING, APPROVED):
        share.state = WITHDRAWN
        share.valid_until = clock.now() if share.valid_until else None
        # Like a revoked consent: what is still queued under the share is not sent.
        session.execute(
            update(Delivery)
            .where(Delivery.lawful_share_id == share.id, Delivery.state == "pending")
            .values(state="cancelled", cancelled_reason="share_withdrawn", finished_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            clock,
            access.actor,
            "lawful_share.withdrawn",
            subject_kind="lawful_share",
            subject_id=share.id,
            survivor_id=share.survivor_id,
        )
        session.flush()
    return share


def list_for(session: Session, access: SurvivorAccess) -> list[LawfulShare]:
    return list(
        session.scalars(
            select(LawfulShare)
            .where(LawfulShare.survivor_id == access.survivor_id)
            .order_by(LawfulShare.created_at.desc(), LawfulShare.id)
        )
    )


def view(session: Session, deps: CoordinationDeps, share: LawfulShare) -> LawfulShareView:
    sid = share.survivor_id
    return LawfulShareView(
        id=share.id,
        agency_id=share.agency_id,
        kinds=share.kinds,
        basis=share.basis,
        reasoning=deps.vault.open_text(
            session, Binding(TABLE, "reasoning_enc", share.id, sid), share.reasoning_enc
        ),
        tell_survivor=share.tell_survivor,
        not_telling_reason=(
            deps.vault.open_text(
                session,
                Binding(TABLE, "not_telling_reason_enc", share.id, sid),
                share.not_telling_reason_enc,
            )
            if share.not_telling_reason_enc
            else None
        ),
        duration_hours=share.duration_hours,
        state=share.state,
        requested_by=share.requested_by,
        decided_by=share.decided_by,
        created_at=share.created_at,
        decided_at=share.decided_at,
        valid_until=share.valid_until,
    )


def alert_consent_kind(alert_kind: str) -> str:
    return ALERT_CONSENT_KIND[alert_kind]
