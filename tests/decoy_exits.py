"""What may leave Lantern because of a decoy (duress) session: only the alarm about its owner,
and the decoy's own check-in texts to the number set in it.

A decoy account is served like any other (``auth.survivors.decoys``); what keeps it harmless is at
the exits. These helpers photograph every exit (staff notices, partner-agency deliveries, texts,
pushes, escalations) before a decoy acts, run every job its actions queued,
and check what appeared since: nothing about a decoy account, and about the real owner only
the alarm itself (the duress alert a duress login raises, and the notice that the duress PIN
was changed from inside the decoy). The one exception is the phone the decoy is used on: a
real account texts its check-ins to whatever number is entered, so a decoy texts its own
check-ins (and nothing else) to the number entered in it, reaching nobody new.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.registry import job_registry
from api.wiring import wire
from auth.survivors.models import Survivor
from coordination.models import Alert, Delivery
from core.clock import FrozenClock
from core.crypto import Binding
from core.notices import StaffNotice
from core.runtime import Runtime
from core.worker import Worker
from messaging.checkins.models import CheckinOccurrence, Escalation
from messaging.models import OutboundSms
from messaging.push import RecordingPushSender

#: Staff notices about the real owner that a decoy session may cause: the alarm.
#: ``pin_guessing``: wrong PINs typed at her account, in a decoy or not, count toward telling her
#: advocates (a duress login does not reset that count: auth.attempts.SURVIVOR_PIN_BACKSTOP).
OWNER_ALARM_NOTICES = frozenset(
    {"duress", "escalation.duress", "duress_pin_changed_in_decoy", "pin_guessing"}
)
#: What the duress alarm may raise for partner agencies that the owner consented to tell.
OWNER_ALARM_ALERTS = frozenset({"duress", "welfare_check"})


def run_all_jobs(runtime: Runtime) -> int:
    """Run every job that is due now, until none is left; returns how many ran."""
    worker = Worker(runtime.session_factory, job_registry(runtime), runtime.clock)
    total = 0
    while (ran := worker.run_once()) and total < 2000:
        total += ran
    return total


def run_everything_queued(runtime: Runtime, clock: FrozenClock) -> None:
    """Run the jobs due now, then those due within two days (grace timers, partner steps,
    sends): whatever a decoy's actions queued has had its chance to reach someone."""
    run_all_jobs(runtime)
    clock.advance(days=2)
    run_all_jobs(runtime)


def decoy_ids(session: Session, owner_id: uuid.UUID) -> list[uuid.UUID]:
    """Every decoy account under ``owner_id``, at any depth (deeper ones open nothing, but
    whatever they hold must not leave either)."""
    found: list[uuid.UUID] = []
    parent = owner_id
    while True:
        child = session.scalar(select(Survivor.id).where(Survivor.decoy_of == parent))
        if child is None:
            return found
        found.append(child)
        parent = child


def _push(runtime: Runtime) -> RecordingPushSender:
    push = wire(runtime).push
    assert isinstance(push, RecordingPushSender)
    return push


@dataclass(frozen=True)
class Exits:
    """The ids of every row at every exit, at one moment."""

    notices: frozenset[uuid.UUID]
    alerts: frozenset[uuid.UUID]
    deliveries: frozenset[uuid.UUID]
    texts: frozenset[uuid.UUID]
    escalations: frozenset[uuid.UUID]
    pushes: int

    @classmethod
    def take(cls, session: Session, runtime: Runtime) -> Exits:
        session.expire_all()
        return cls(
            frozenset(session.scalars(select(StaffNotice.id))),
            frozenset(session.scalars(select(Alert.id))),
            frozenset(session.scalars(select(Delivery.id))),
            frozenset(session.scalars(select(OutboundSms.id))),
            frozenset(session.scalars(select(Escalation.id))),
            len(_push(runtime).sent),
        )


def assert_only_the_alarm_left(
    session: Session,
    runtime: Runtime,
    before: Exits,
    owner_id: uuid.UUID,
    *,
    decoy_numbers: frozenset[str] = frozenset(),
) -> None:
    """Since ``before``: nothing about a decoy of ``owner_id`` reached staff, an agency or a
    phone, and nothing about the owner either except the alarm; a decoy's own check-ins may
    have been texted to ``decoy_numbers`` (the numbers set in it), and only those. Run the
    jobs first."""
    session.expire_all()
    decoys = set(decoy_ids(session, owner_id))
    assert decoys, "the owner has no decoy account"
    about = decoys | {owner_id}

    notices = session.scalars(select(StaffNotice).where(StaffNotice.id.not_in(before.notices)))
    for n in notices:
        assert n.survivor_id not in decoys, f"staff were told about a decoy: {n.kind}"
        if n.survivor_id == owner_id:
            assert n.kind in OWNER_ALARM_NOTICES, f"staff were told {n.kind} about the owner"
    # A decoy may keep an alert row of its own (its access log then shows "alert.created" as a
    # real account's does), but an agency only ever hears through a delivery: none for a decoy.
    alerts = session.scalars(select(Alert).where(Alert.id.not_in(before.alerts))).all()
    assert {a.kind for a in alerts if a.survivor_id == owner_id} <= OWNER_ALARM_ALERTS
    deliveries = session.scalars(select(Delivery).where(Delivery.id.not_in(before.deliveries)))
    for d in deliveries:
        assert d.survivor_id not in decoys, "a partner agency was sent something about a decoy"
        if d.survivor_id == owner_id:
            alert = session.get(Alert, d.alert_id)
            assert alert is not None
            assert alert.kind in OWNER_ALARM_ALERTS
    # No text to the owner, nor to a decoy but its own check-ins to its own number; and nobody
    # in these worlds is on duty, so even the alarm texts no staff member.
    texts = session.scalars(select(OutboundSms).where(OutboundSms.id.not_in(before.texts))).all()
    assert [t.purpose for t in texts if t.survivor_id == owner_id or t.staff_id is not None] == []
    for text in (t for t in texts if t.survivor_id in decoys):
        assert text.purpose == "check_in", f"a decoy was texted a {text.purpose}"
        assert text.reference_id is not None
        occurrence = session.get(CheckinOccurrence, text.reference_id)
        assert occurrence is not None
        assert occurrence.survivor_id == text.survivor_id  # its own check-in
        to = runtime.vault.open_text(
            session, Binding("outbound_sms", "to_enc", text.id, text.survivor_id), text.to_enc
        )
        assert to in decoy_numbers, "a decoy texted a number it was not given"
    escalations = session.scalars(
        select(Escalation).where(Escalation.id.not_in(before.escalations))
    ).all()
    assert [e.source for e in escalations if e.survivor_id in decoys] == []
    assert {e.source for e in escalations if e.survivor_id == owner_id} <= {"duress"}
    assert [sid for sid, _text in _push(runtime).sent[before.pushes :] if sid in about] == []


def later(clock: FrozenClock, **delta: float) -> str:
    """An ISO time ``delta`` from now on the frozen clock (for due times and expiries)."""
    return (clock.now() + dt.timedelta(**delta)).isoformat()
