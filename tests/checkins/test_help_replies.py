"""Every help reply reaches the advocate as urgent, whatever came before it (a safe reply that
may have been forced, an earlier help, an escalation already acknowledged or resolved), through
the real signed inbound webhook."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import Actor
from core.clock import FrozenClock
from core.notices import StaffNotice
from core.runtime import Runtime
from messaging.checkins import escalation, states
from messaging.checkins.escalation import URGENCY
from tests.checkins.sms_world import PHONE, SmsWorld, build_sms_world, inbound, send_due
from tests.json_client import JsonClient
from tests.messaging.conftest import post_signed

HELP, SAFE = "tulips", "1"
_sids = (f"SM{n:032x}" for n in itertools.count(1))


@pytest.fixture
def w(runtime: Runtime, db_session: Session, clock: FrozenClock) -> SmsWorld:
    world = build_sms_world(runtime, db_session, clock)
    send_due(world)  # the check-in text has gone out and waits for a reply
    return world


def _text(w: SmsWorld, body: str) -> None:
    inbound(w, body, next(_sids))
    w.clock.advance(minutes=1)


def _urgent(w: SmsWorld) -> list[StaffNotice]:
    w.session.expire_all()
    return list(
        w.session.scalars(
            select(StaffNotice)
            .where(StaffNotice.recipient_id == w.advocate.id, StaffNotice.urgency == "urgent")
            .order_by(StaffNotice.created_at)
        )
    )


def test_help_safe_help_tells_the_advocate_urgently_twice(w: SmsWorld) -> None:
    _text(w, HELP)
    assert [n.kind for n in _urgent(w)] == ["escalation.help_reply"]
    _text(w, SAFE)  # perhaps with him standing over her
    assert len(_urgent(w)) == 1  # a safe reply is noted, not urgent
    _text(w, HELP)
    urgent = _urgent(w)
    assert [n.kind for n in urgent] == ["escalation.help_reply", "late_reply.help"]
    [esc] = w.escalations()
    assert urgent[1].survivor_id == w.survivor_id
    assert urgent[1].details == {"escalation_id": str(esc.id)}
    assert w.occurrence().state == states.ESCALATED  # nothing pulled it back


def test_safe_then_help_escalates(w: SmsWorld) -> None:
    _text(w, SAFE)
    assert w.occurrence().state == states.SAFE
    assert _urgent(w) == []
    _text(w, HELP)
    [esc] = w.escalations()
    assert esc.source == "help_reply"
    assert esc.state == states.ESCALATED
    assert [n.kind for n in _urgent(w)] == ["escalation.help_reply"]


def test_help_help_help_is_urgent_every_time(w: SmsWorld) -> None:
    for _ in range(3):
        _text(w, HELP)
    assert [n.kind for n in _urgent(w)] == [
        "escalation.help_reply",
        "late_reply.help",
        "late_reply.help",
    ]
    assert len(w.escalations()) == 1  # one escalation, told again each time


def test_help_after_a_missed_check_in_raises_its_urgency(w: SmsWorld) -> None:
    w.clock.advance(hours=2)
    w.run_jobs()
    [esc] = w.escalations()
    assert (esc.source, esc.urgency) == ("missed", URGENCY["missed"])
    _text(w, SAFE)
    _text(w, HELP)
    [esc] = w.escalations()
    assert esc.urgency == URGENCY["help_reply"]  # to the top of the advocates' queue
    assert [n.kind for n in _urgent(w)] == ["escalation.missed", "late_reply.help"]


def test_help_after_the_escalation_was_acknowledged_is_still_urgent(w: SmsWorld) -> None:
    _text(w, HELP)
    [esc] = w.escalations()
    staff = Actor("staff", w.advocate.id)
    escalation.acknowledge(w.session, w.clock, staff, [w.survivor_id], esc.id)
    w.session.commit()
    _text(w, SAFE)
    _text(w, HELP)
    assert [n.kind for n in _urgent(w)] == ["escalation.help_reply", "late_reply.help"]


def test_help_after_the_escalation_was_resolved_opens_a_new_one(w: SmsWorld) -> None:
    _text(w, HELP)
    [esc] = w.escalations()
    staff = Actor("staff", w.advocate.id)
    escalation.resolve(
        w.session, w.clock, w.runtime.vault, staff, [w.survivor_id], esc.id, "Spoke to her."
    )
    w.session.commit()
    _text(w, SAFE)
    _text(w, HELP)
    escalations = w.escalations()
    assert len(escalations) == 2
    new = next(e for e in escalations if e.id != esc.id)
    assert (new.source, new.state) == ("help_reply", states.ESCALATED)
    assert [n.kind for n in _urgent(w)] == ["escalation.help_reply", "escalation.help_reply"]


def test_a_help_tap_in_the_app_after_a_safe_reply_escalates(w: SmsWorld) -> None:
    from tests.factories import auth_header

    _text(w, SAFE)
    occ = w.occurrence()
    r = w.client.post(
        f"/v1/survivor/check-ins/occurrences/{occ.id}/answer",
        json={"answer": "help"},
        headers=auth_header(w.survivor_token),
    )
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    [esc] = w.escalations()
    assert esc.source == "help_reply"
    assert [n.kind for n in _urgent(w)] == ["escalation.help_reply"]


def test_help_texts_arriving_together_each_reach_the_advocate(
    committed_runtime: Runtime,
) -> None:
    runtime, clock = committed_runtime, committed_runtime.clock
    assert isinstance(clock, FrozenClock)
    with runtime.session_factory() as session:
        world = build_sms_world(runtime, session, clock)
        send_due(world)
        app = world.client.application
        barrier = threading.Barrier(4)
        answers: list[int] = []

        def text(sid: str) -> None:
            client = JsonClient(app)
            barrier.wait(10)
            params = {"From": PHONE, "To": "+15005550006", "Body": HELP, "MessageSid": sid}
            answers.append(post_signed(client, "/v1/sms/inbound", params).status_code)

        threads = [threading.Thread(target=text, args=(next(_sids),)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers == [200] * 4
        assert len(world.escalations()) == 1
        assert sorted(n.kind for n in _urgent(world)) == [
            "escalation.help_reply",
            *["late_reply.help"] * 3,
        ]
