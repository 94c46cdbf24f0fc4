"""The survivor's own view of who touched their record: the audit events about them.

Shown: events with ``survivor_id`` = the survivor whose actor is staff, a partner agency or
the system (the survivor's own actions are theirs to remember). Each says who (a staff
member's display name and role, or an agency's name and kind), what, when and how access was
granted (``via``: caseload or break_glass).

Concealed (threat model 1: the abuser may later force the real PIN and read this list):
events that would tell the person holding the phone that an alarm was raised, a duress PIN
exists or was used, or an escalation went out. Domains that audit such facts against a
survivor name their action with a prefix in ``CONCEALED_ACTION_PREFIXES`` (add yours here),
or record them without a survivor id, as the duress alert does. Alerts a survivor consented
to share with an agency stay visible: the survivor chose that agency and sees it read them.

A decoy (duress) session reads its own decoy account's log (``auth.survivors.decoys``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.partners.models import PartnerAgency
from auth.principals import SurvivorPrincipal
from auth.staff.models import StaffMember
from core.audit import AuditEvent
from core.pages import Position

SHOWN_ACTOR_KINDS = ("staff", "partner", "system")
CONCEALED_ACTION_PREFIXES: tuple[str, ...] = (
    "duress",
    "survivor.duress",
    "survivor.lock",
    "alarm",
    "checkin.escalat",
    "checkin.partner_step",
    "checkin.late_reply",
    "escalation.",
)
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    id: uuid.UUID
    at: dt.datetime
    actor_kind: str
    who: str | None
    role: str | None
    action: str
    via: str | None


def concealed(action: str) -> bool:
    return action.startswith(CONCEALED_ACTION_PREFIXES)


def _names(session: Session, events: list[AuditEvent]) -> dict[uuid.UUID, tuple[str, str]]:
    staff_ids = {e.actor_id for e in events if e.actor_kind == "staff" and e.actor_id}
    agency_ids = {e.actor_id for e in events if e.actor_kind == "partner" and e.actor_id}
    names: dict[uuid.UUID, tuple[str, str]] = {}
    if staff_ids:
        for sid, name, role in session.execute(
            select(StaffMember.id, StaffMember.display_name, StaffMember.role).where(
                StaffMember.id.in_(staff_ids)
            )
        ):
            names[sid] = (name, role)
    if agency_ids:
        for aid, name, kind in session.execute(
            select(PartnerAgency.id, PartnerAgency.name, PartnerAgency.kind).where(
                PartnerAgency.id.in_(agency_ids)
            )
        ):
            names[aid] = (name, kind)
    return names


def access_log(
    session: Session,
    survivor: SurvivorPrincipal,
    *,
    limit: int = 50,
    after: Position | None = None,
) -> tuple[list[AccessLogEntry], Position | None]:
    """One page (newest first) of who touched the calling survivor's record, and where the
    next page starts. A cursor naming no event of the caller's is an empty page."""
    stmt = select(AuditEvent).where(
        AuditEvent.survivor_id == survivor.survivor_id,
        AuditEvent.actor_kind.in_(SHOWN_ACTOR_KINDS),
    )
    if after is not None:
        # The log runs in the chain's order (seq), which the cursor's event id finds.
        mark = session.scalars(
            select(AuditEvent.seq).where(
                AuditEvent.id == after.id, AuditEvent.survivor_id == survivor.survivor_id
            )
        ).first()
        if mark is None:
            return [], None
        stmt = stmt.where(AuditEvent.seq < mark)
    limit = max(1, min(limit, MAX_PAGE))
    # Concealed events are filtered here rather than in SQL, so the prefix list stays one
    # readable tuple; pages keep reading until they are full or the log ends.
    shown: list[AuditEvent] = []
    last_seq: int | None = None
    more = True
    while len(shown) <= limit and more:
        page_stmt = stmt if last_seq is None else stmt.where(AuditEvent.seq < last_seq)
        batch = list(session.scalars(page_stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
        more = len(batch) == limit + 1
        if batch:
            last_seq = batch[-1].seq
        shown.extend(e for e in batch if not concealed(e.action))
    shown, more = shown[:limit], len(shown) > limit
    next_cursor = Position(shown[-1].occurred_at, shown[-1].id) if more else None
    names = _names(session, shown)
    entries = []
    for event in shown:
        who, role = names.get(event.actor_id, (None, None)) if event.actor_id else (None, None)
        via = (event.details or {}).get("via")
        entries.append(
            AccessLogEntry(
                id=event.id,
                at=event.occurred_at,
                actor_kind=event.actor_kind,
                who=who,
                role=role,
                action=event.action,
                via=via if isinstance(via, str) else None,
            )
        )
    return entries, next_cursor
