"""Answers to check-ins: reply codes by SMS, taps in the app, "I am safe now"."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import advocates_of
from core import audit
from core.clock import Clock
from core.crypto import KeyRing
from core.notices import notify_staff
from messaging.checkins import states
from messaging.checkins.arrangements import classify_reply
from messaging.checkins.deps import CheckinSms
from messaging.checkins.escalation import OPEN, URGENCY, escalate
from messaging.checkins.models import CheckinOccurrence, CheckinSettings, Escalation
from messaging.checkins.occurrences import lock_occurrence, pending, transition


def answer(
    session: Session,
    clock: Clock,
    sms: CheckinSms | None,
    actor: audit.Actor,
    occurrence_id: uuid.UUID,
    answer_kind: str,
    via: str,
) -> CheckinOccurrence | None:
    """Record "safe" or "help" for one occurrence. A help answer escalates at once.

    A late answer (the occurrence already settled) cannot pull it back. Every help answer
    reaches the advocates as urgent, whatever came before it (an earlier help, a safe reply
    that may have been forced): on the open escalation, or as a new one when none is open.
    """
    occ = lock_occurrence(session, occurrence_id)
    if occ is None:
        return None
    if occ.state in (states.SCHEDULED, states.SENT):
        if answer_kind == states.HELP and occ.state == states.SCHEDULED:
            occ.state = states.SENT  # a help tap before the text went out still counts
        transition(session, clock, occ, answer_kind, actor, via=via)
        occ.answered_at = clock.now()
        if answer_kind == states.HELP:
            escalate(session, clock, sms, occ.survivor_id, "help_reply", occ)
        return occ
    esc = session.get(Escalation, occ.escalation_id) if occ.escalation_id else None
    if esc is not None and esc.state in OPEN:
        _late_reply(session, clock, actor, esc, answer_kind)
    elif occ.escalation_id is None and occ.state in OPEN:
        # A decoy's escalated check-in (it has no escalation row): open for good, since nobody
        # acknowledges it, and a late answer, as on a real open escalation, starts nothing new.
        return occ
    elif answer_kind == states.HELP:
        # Answered safe, resolved or cancelled: a help now is a new call for help.
        escalate(session, clock, sms, occ.survivor_id, "help_reply")
    return occ


def _late_reply(
    session: Session, clock: Clock, actor: audit.Actor, esc: Escalation, answer_kind: str
) -> None:
    """Note an answer that came after the escalation: a help every time (urgent, and the
    escalation moves up the queue), a safe reply the first time."""
    first = esc.late_reply_at is None
    if first:
        esc.late_reply_at = clock.now()
    if answer_kind == states.HELP:
        esc.urgency = max(esc.urgency, URGENCY["help_reply"])
    elif not first:
        return  # the advocates were told of a safe reply already; a help would still reach them
    notify_staff(
        session,
        clock,
        advocates_of(session, esc.survivor_id),
        f"late_reply.{answer_kind}",
        urgency="urgent" if answer_kind == states.HELP else "high",
        survivor_id=esc.survivor_id,
        details={"escalation_id": str(esc.id)},
    )
    audit.record(
        session,
        clock,
        actor,
        "checkin.late_reply",
        subject_kind="escalation",
        subject_id=esc.id,
        survivor_id=esc.survivor_id,
        details={"answer": answer_kind},
    )


def claim_sms_reply(
    session: Session, ring: KeyRing, survivor_id: uuid.UUID, body: str
) -> str | None:
    """ "safe" or "help" when ``body`` is one of this survivor's own reply codes, else None
    (the inbound webhook asks this of each survivor sharing a number)."""
    settings = session.get(CheckinSettings, survivor_id)
    return classify_reply(ring, settings, body) if settings is not None else None


def route_sms_reply(
    session: Session,
    clock: Clock,
    ring: KeyRing,
    sms: CheckinSms | None,
    survivor_id: uuid.UUID,
    body: str,
) -> bool:
    """Inbound SMS router for check-ins: True when the text was a reply code.

    Any other text is not ours: it goes on to the advocate as a message.
    """
    kind = claim_sms_reply(session, ring, survivor_id, body)
    if kind is None:
        return False
    actor = audit.Actor("survivor", survivor_id)
    waiting = [o for o in pending(session, survivor_id) if o.state == states.SENT]
    if waiting:
        answer(session, clock, sms, actor, waiting[0].id, kind, "sms")
        return True
    latest = session.scalars(
        select(CheckinOccurrence)
        .where(
            CheckinOccurrence.survivor_id == survivor_id,
            CheckinOccurrence.state.in_((states.ESCALATED, states.ACKNOWLEDGED)),
        )
        .order_by(CheckinOccurrence.send_at.desc())
    ).first()
    if latest is not None:
        answer(session, clock, sms, actor, latest.id, kind, "sms")
        return True
    if kind == states.HELP:
        # A help code with nothing pending is still a call for help.
        escalate(session, clock, sms, survivor_id, "help_reply")
        return True
    return False


def safe_now(session: Session, clock: Clock, actor: audit.Actor, survivor_id: uuid.UUID) -> int:
    """ "I am safe now" from the app: every waiting occurrence is answered safe."""
    count = 0
    for occ in pending(session, survivor_id):
        count += transition(session, clock, occ, states.SAFE, actor, via="app")
        occ.answered_at = clock.now()
    return count
