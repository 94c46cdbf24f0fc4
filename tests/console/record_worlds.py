"""What the survivor-record tab tests put in place through the domains' own services: messages
from the survivor, consents given in the app, agency events and alerts shared, a supervisor's
break-glass grant, a lapsed step-up."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.access.models import BreakGlassGrant, CaseloadEntry
from auth.access.permissions import STEP_UP_WINDOW, SurvivorAccess
from auth.partners.models import PartnerAgency
from auth.principals import PartnerPrincipal, SurvivorPrincipal
from auth.survivors import decoys
from coordination import consents, disclosures, events
from coordination.deps import CoordinationDeps
from coordination.models import Consent
from coordination.references import ensure_reference
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.ids import new_id
from core.runtime import Runtime
from messaging.conversations import SURVIVOR, Reader, post_message
from tests.factories import make_agency


def coordination_deps(rt: Runtime) -> CoordinationDeps:
    return rt.collaborators.need(CoordinationDeps)


def survivor_says(s: Session, rt: Runtime, survivor_id: uuid.UUID, body: str) -> uuid.UUID:
    """A message from the survivor's app, as ``POST /v1/survivor/messages`` stores it."""
    return post_message(s, rt.clock, rt.vault, survivor_id, Reader(SURVIVOR, survivor_id), body).id


def agency(
    s: Session, rt: Runtime, name: str = "Northshire Police", kind: str = "police"
) -> PartnerAgency:
    return make_agency(s, rt, name=name, kind=kind)[0]


def consent_given(
    s: Session,
    rt: Runtime,
    survivor_id: uuid.UUID,
    to: PartnerAgency | None = None,
    kinds: Sequence[str] = ("welfare_check",),
) -> Consent:
    """A consent the survivor gave in the app (the service ``POST /v1/survivor/consents`` calls)."""
    to = to or agency(s, rt)
    access = SurvivorAccess(survivor_id, "self", SurvivorPrincipal(survivor_id, new_id(), False))
    expires = rt.clock.now() + dt.timedelta(days=30)
    t = consents.terms(s, rt.clock, survivor_id, to.id, list(kinds), "Safety", expires)
    return consents.give(
        s,
        access,
        rt.clock,
        coordination_deps(rt),
        agency_id=to.id,
        kinds=list(kinds),
        purpose="Safety",
        expires_at=expires,
        text_hash=t.text_hash,
    )


def agency_reports(
    s: Session, rt: Runtime, survivor_id: uuid.UUID, to: PartnerAgency, note: str
) -> uuid.UUID:
    """An event the agency reports about the abuser (``POST /v1/partner/events``)."""
    reference = ensure_reference(s, rt.clock, rt.keyring, to.id, survivor_id)
    accepted = events.receive(
        s,
        PartnerPrincipal(to.id, "k", frozenset({"events:write"})),
        rt.clock,
        coordination_deps(rt),
        event={
            "event_id": f"ev-{uuid.uuid4().hex[:8]}",
            "reference": reference,
            "category": "custody",
            "type": "released",
            "occurred_at": rt.clock.now() - dt.timedelta(hours=1),
            "note": note,
        },
    )
    return accepted.id


def alert_shared(s: Session, rt: Runtime, consent: Consent) -> uuid.UUID:
    """The disclosure-log line of a welfare check sent to the consent's agency."""
    return disclosures.record_alert_to(
        s,
        rt.clock,
        survivor_id=consent.survivor_id,
        agency_id=consent.agency_id,
        kind="welfare_check",
        subject_id=new_id(),
        consent_id=consent.id,
        lawful_share_id=None,
    ).id


def break_glass(s: Session, rt: Runtime, supervisor_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """A live one-hour read-only grant, as ``POST /v1/supervisor/.../break-glass`` leaves it."""
    now = rt.clock.now()
    s.add(
        BreakGlassGrant(
            id=new_id(),
            supervisor_id=supervisor_id,
            survivor_id=survivor_id,
            reason_enc=b"\x00" * 48,  # never opened by the access check
            created_at=now,
            expires_at=now + dt.timedelta(hours=1),
        )
    )
    s.flush()


def lapse_step_up(clock: FrozenClock) -> None:
    """Past the step-up window, well within the idle limit (the session stays signed in)."""
    clock.advance(seconds=STEP_UP_WINDOW.total_seconds() + 60)


def audited(s: Session, survivor_id: uuid.UUID, action: str) -> int:
    """How many audit events of ``action`` name the survivor."""
    s.expire_all()
    return int(
        s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.survivor_id == survivor_id, AuditEvent.action == action)
        )
        or 0
    )


def decoy_on_caseload(
    s: Session, survivor_id: uuid.UUID, staff_id: uuid.UUID, clock: FrozenClock
) -> uuid.UUID:
    """The survivor's decoy account, put on the advocate's caseload as an attacker with database
    access might: staff must still never reach it (a decoy is nobody's case)."""
    decoy = decoys.decoy_account(s, survivor_id)
    assert decoy is not None
    s.add(
        CaseloadEntry(id=new_id(), survivor_id=decoy.id, staff_id=staff_id, assigned_at=clock.now())
    )
    s.commit()
    return decoy.id
