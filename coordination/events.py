"""Events in: agencies tell the advocates what the abuser is doing.

An event names the agency's own reference for the survivor (another agency's reference finds
nothing), a category and type from a fixed list, when it happened and an optional short note
(sealed). It is idempotent on the agency's event id: the same id again has no second effect
(and the same id with different content is refused). Each event reaches the survivor's
advocates at once; a release, an escape or a breach is urgent. The survivor is told in the
app, in neutral words, only if they asked for such news.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, advocates_of
from auth.partners.models import PartnerAgency
from auth.principals import PartnerPrincipal
from coordination import disclosures
from coordination.deps import CoordinationDeps
from coordination.models import AgencyEvent, SharingPreference, SurvivorNotice
from coordination.references import resolve_reference
from coordination.vocab import EVENT_TYPES, URGENT_EVENT_TYPES
from core import audit, notices
from core.clock import Clock
from core.crypto import Binding, digest_items
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id

TABLE = "coordination_agency_events"
MAX_AGE = dt.timedelta(days=366)
MAX_SKEW = dt.timedelta(minutes=10)


class EventIn(TypedDict):
    """An agency's event as ``EventInSchema`` loads it."""

    event_id: str
    reference: str
    category: str
    type: str
    occurred_at: dt.datetime
    note: NotRequired[str]


@dataclass(frozen=True, slots=True)
class EventAccepted:
    """The answer to an agency (``EventAcceptedSchema``): our id for its event, and whether
    this was a repeat (which had no second effect)."""

    id: uuid.UUID
    event_id: str
    duplicate: bool
    received_at: dt.datetime

    @classmethod
    def of(cls, event: AgencyEvent, *, duplicate: bool) -> EventAccepted:
        return cls(event.id, event.event_id, duplicate, event.received_at)


@dataclass(frozen=True, slots=True)
class AgencyEventView:
    """An event as advocates read it, the note opened (``AgencyEventSchema``)."""

    id: uuid.UUID
    agency_id: uuid.UUID
    agency_name: str
    agency_kind: str
    category: str
    type: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    note: str | None


def receive(
    session: Session,
    principal: PartnerPrincipal,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    event: EventIn,
) -> EventAccepted:
    """Record an agency's event; a repeat of one already recorded has no second effect."""
    category, etype = event["category"], event["type"]
    if etype not in EVENT_TYPES.get(category, ()):
        raise InvalidInput(
            "This type does not belong to this category.", errors={"type": ["Unknown here."]}
        )
    occurred_at: dt.datetime = event["occurred_at"]
    if occurred_at.tzinfo is None:
        raise InvalidInput("Give a time zone.", errors={"occurred_at": ["Needs a UTC offset."]})
    now = clock.now()
    if occurred_at > now + MAX_SKEW or occurred_at < now - MAX_AGE:
        raise InvalidInput("Out of range.", errors={"occurred_at": ["Not plausible."]})
    request_digest = digest_items(
        {
            "reference": event["reference"],
            "category": category,
            "type": etype,
            "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(),
            "note": event.get("note") or "",
        }
    )
    existing = _existing(session, principal.agency_id, event["event_id"])
    if existing is not None:
        return EventAccepted.of(_repeat(existing, request_digest), duplicate=True)
    survivor_id = resolve_reference(session, deps.keyring, principal.agency_id, event["reference"])
    if survivor_id is None:
        raise NotFound("Unknown reference.")
    row_id = new_id()
    note = event.get("note")
    row = AgencyEvent(
        id=row_id,
        agency_id=principal.agency_id,
        event_id=event["event_id"],
        survivor_id=survivor_id,
        category=category,
        type=etype,
        occurred_at=occurred_at,
        note_enc=(
            deps.vault.seal(session, Binding(TABLE, "note_enc", row_id, survivor_id), note)
            if note
            else None
        ),
        request_digest=request_digest,
        received_at=now,
    )
    try:
        with session.begin_nested():  # two retries racing: the loser returns the winner's row
            session.add(row)
    except IntegrityError:
        existing = _existing(session, principal.agency_id, event["event_id"])
        if existing is None:  # pragma: no cover - the constraint fired, so the row exists
            raise
        return EventAccepted.of(_repeat(existing, request_digest), duplicate=True)
    _effects(session, clock, principal, row)
    return EventAccepted.of(row, duplicate=False)


def _existing(session: Session, agency_id: uuid.UUID, event_id: str) -> AgencyEvent | None:
    return session.scalars(
        select(AgencyEvent).where(
            AgencyEvent.agency_id == agency_id, AgencyEvent.event_id == event_id
        )
    ).one_or_none()


def _repeat(existing: AgencyEvent, request_digest: str) -> AgencyEvent:
    if existing.request_digest != request_digest:
        raise Conflict("This event id was already used for a different event.")
    return existing


def _effects(
    session: Session, clock: Clock, principal: PartnerPrincipal, event: AgencyEvent
) -> None:
    urgent = event.type in URGENT_EVENT_TYPES
    notices.notify_staff(
        session,
        clock,
        advocates_of(session, event.survivor_id),
        "agency_event",
        urgency="urgent" if urgent else "info",
        survivor_id=event.survivor_id,
        details={
            "event_id": str(event.id),
            "agency_id": str(event.agency_id),
            "category": event.category,
            "type": event.type,
        },
    )
    disclosures.record(
        session,
        clock,
        survivor_id=event.survivor_id,
        agency_id=event.agency_id,
        direction="in",
        what="event",
        kind=f"{event.category}.{event.type}"[:32],
        basis="agency_report",
        subject_id=event.id,
    )
    pref = session.get(SharingPreference, event.survivor_id)
    if pref is not None and pref.agency_news:
        # Neutral words only: the notice names no agency, category or type in its text.
        session.add(
            SurvivorNotice(
                id=new_id(),
                survivor_id=event.survivor_id,
                kind="agency_news",
                details={"urgent": urgent},
                created_at=clock.now(),
            )
        )
    audit.record(
        session,
        clock,
        principal.actor,
        "agency_event.received",
        subject_kind="agency_event",
        subject_id=event.id,
        survivor_id=event.survivor_id,
        details={"category": event.category, "type": event.type, "urgent": urgent},
    )
    session.flush()


def list_for_staff(
    session: Session, access: SurvivorAccess, deps: CoordinationDeps
) -> list[AgencyEventView]:
    rows = session.scalars(
        select(AgencyEvent)
        .where(AgencyEvent.survivor_id == access.survivor_id)
        .order_by(AgencyEvent.occurred_at.desc(), AgencyEvent.id)
        .limit(500)
    ).all()
    # Named as the disclosure log names them: an advocate reads "Police", not an id.
    agencies = {
        a.id: a
        for a in session.scalars(
            select(PartnerAgency).where(PartnerAgency.id.in_({e.agency_id for e in rows}))
        )
    }
    return [
        AgencyEventView(
            id=e.id,
            agency_id=e.agency_id,
            agency_name=agencies[e.agency_id].name if e.agency_id in agencies else "",
            agency_kind=agencies[e.agency_id].kind if e.agency_id in agencies else "",
            category=e.category,
            type=e.type,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
            note=(
                deps.vault.open_text(
                    session, Binding(TABLE, "note_enc", e.id, e.survivor_id), e.note_enc
                )
                if e.note_enc
                else None
            ),
        )
        for e in rows
    ]
