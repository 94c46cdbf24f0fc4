"""Check-ins wired to the real SMS outbox, the Twilio gateway (over a fake HTTP client) and the
real inbound and status webhooks with valid signatures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.registry import job_registry
from core import audit, jobs
from core.clock import FrozenClock
from core.runtime import Runtime
from messaging.checkins import states
from messaging.checkins.models import CheckinOccurrence
from messaging.checkins.occurrences import SEND_JOB
from messaging.models import ConversationMessage, OutboundSms
from tests.checkins.sms_world import PHONE, SmsWorld, build_sms_world, inbound, send_due
from tests.factories import auth_header
from tests.messaging.conftest import make_job_runner, post_signed, twilio_error


@pytest.fixture
def sms_world(runtime: Runtime, db_session: Session, clock: FrozenClock) -> SmsWorld:
    return build_sms_world(runtime, db_session, clock)


def test_check_in_text_goes_out_through_twilio_and_a_signed_safe_reply_closes_it(
    sms_world: SmsWorld,
) -> None:
    w = sms_world
    send_due(w)
    sends = [r for r in w.http.requests if r.method == "POST" and r.url.endswith("/Messages.json")]
    assert len(sends) == 1
    assert sends[0].data["To"] == PHONE
    assert "prescription" in str(sends[0].data["Body"]).lower()
    assert w.occurrence().state == states.SENT
    inbound(w, "1", "SM" + "a" * 32)
    assert w.occurrence().state == states.SAFE
    # A reply is not a message to the advocate.
    assert w.session.scalars(select(ConversationMessage)).all() == []


def test_signed_help_reply_escalates_and_texts_the_on_duty_advocate(sms_world: SmsWorld) -> None:
    w = sms_world
    r = w.client.put(
        "/v1/staff/me/duty",
        json={"on_duty": True, "phone": "+447911123457"},
        headers=auth_header(w.advocate_token),
    )
    assert r.status_code == 200
    assert r.json == {"on_duty": True, "phone": "***********57"}
    send_due(w)
    inbound(w, "Tulips", "SM" + "b" * 32)
    assert w.occurrence().state == states.ESCALATED
    [esc] = w.escalations()
    assert esc.source == "help_reply"
    w.run_jobs()
    to_staff = [
        r for r in w.http.requests if r.method == "POST" and r.data.get("To") == "+447911123457"
    ]
    assert len(to_staff) == 1
    body = str(to_staff[0].data["Body"]).lower()
    assert "survivor" not in body
    assert "check" not in body


def test_forged_reply_changes_nothing(sms_world: SmsWorld) -> None:
    w = sms_world
    send_due(w)
    r = post_signed(
        w.client,
        "/v1/sms/inbound",
        {"From": PHONE, "To": "+15005550006", "Body": "1", "MessageSid": "SM" + "c" * 32},
        signature="forged",
    )
    assert r.status_code == 403
    assert w.occurrence().state == states.SENT


def test_any_other_reply_reaches_the_advocate_as_a_message(sms_world: SmsWorld) -> None:
    w = sms_world
    send_due(w)
    inbound(w, "can we talk tomorrow", "SM" + "d" * 32)
    assert w.occurrence().state == states.SENT
    assert len(w.session.scalars(select(ConversationMessage)).all()) == 1


def test_permanent_twilio_error_escalates_as_missed(sms_world: SmsWorld) -> None:
    w = sms_world
    w.http.script.append(twilio_error(400, 21610))  # the number has opted out at Twilio
    send_due(w)
    assert w.occurrence().state == states.ESCALATED
    assert w.escalations()[0].source == "send_failed"


def test_undelivered_status_callback_escalates(sms_world: SmsWorld) -> None:
    w = sms_world
    send_due(w)
    row = w.session.scalars(select(OutboundSms)).one()
    assert row.provider_sid
    r = post_signed(
        w.client, "/v1/sms/status", {"MessageSid": row.provider_sid, "MessageStatus": "undelivered"}
    )
    assert r.status_code in (200, 204)
    assert w.occurrence().state == states.ESCALATED


def test_stop_then_due_check_in_escalates_at_once(sms_world: SmsWorld) -> None:
    w = sms_world
    inbound(w, "STOP", "SM" + "e" * 32)
    send_due(w)
    assert w.occurrence().state == states.ESCALATED
    assert w.escalations()[0].source == "send_failed"
    # Nothing was sent to the opted-out number.
    assert not [r for r in w.http.requests if r.data.get("To") == PHONE]


def _send_requests(w: SmsWorld) -> list[object]:
    return [r for r in w.http.requests if r.method == "POST" and r.url.endswith("/Messages.json")]


def _row(w: SmsWorld) -> OutboundSms:
    w.session.expire_all()
    return w.session.scalars(select(OutboundSms)).one()


def _outbox_job(w: SmsWorld, row: OutboundSms) -> jobs.Job:
    w.session.expire_all()
    return w.session.scalars(
        select(jobs.Job).where(jobs.Job.dedupe_key == f"sms.send:{row.id}")
    ).one()


def test_the_check_in_job_sends_its_own_text_without_a_second_job(
    sms_world: SmsWorld,
) -> None:
    w = sms_world
    send_due(w)
    assert len(_send_requests(w)) == 1
    row = _row(w)
    assert row.provider_sid is not None
    assert row.attempt_started_at is not None
    assert w.session.scalars(select(jobs.Job).where(jobs.Job.kind == "sms.send")).all() == []
    w.clock.advance(minutes=30)
    w.run_jobs()
    assert len(_send_requests(w)) == 1


def test_a_transient_twilio_failure_is_retried_by_the_outbox_job(sms_world: SmsWorld) -> None:
    w = sms_world
    w.http.script.append(twilio_error(503, 20503))
    send_due(w)
    assert w.occurrence().state == states.SENT  # waiting for the retry, not escalated
    row = _row(w)
    assert (row.status, row.provider_sid, row.attempt_started_at) == ("queued", None, None)
    job = _outbox_job(w, row)
    assert job.state == jobs.PENDING
    assert job.run_at > w.clock.now()
    w.clock.advance(minutes=1)
    w.run_jobs()
    assert len(_send_requests(w)) == 2
    assert _row(w).provider_sid is not None
    assert _outbox_job(w, row).state == jobs.DONE


def test_a_send_cut_off_mid_call_is_never_repeated_and_the_grace_timer_still_escalates(
    sms_world: SmsWorld,
) -> None:
    # The worker dies while Twilio has the request: whether the text went is unknown. It is
    # not sent again (a survivor's phone must not light up twice), and silence still escalates.
    w = sms_world
    w.http.script.append(RuntimeError("the worker died during the call"))
    send_due(w)
    assert w.occurrence().state == states.SENT  # committed before the call
    w.clock.advance(minutes=5)  # the check-in job's retry and the outbox job's takeover
    w.run_jobs()
    w.run_jobs()
    assert len(_send_requests(w)) == 1
    row = _row(w)
    assert (row.status, row.failure_reason) == ("failed", "outcome_unknown")
    assert w.occurrence().state == states.SENT  # not a false alarm: the text may have arrived
    assert w.escalations() == []
    w.clock.advance(hours=3)
    w.run_jobs()
    assert w.occurrence().state == states.ESCALATED
    assert [e.source for e in w.escalations()] == ["missed"]
    assert len(_send_requests(w)) == 1


def test_a_burst_is_sent_in_batches_each_text_once(sms_world: SmsWorld) -> None:
    w = sms_world
    due = (w.clock.now() + dt.timedelta(minutes=10)).isoformat()
    for _ in range(59):  # 60 check-ins due in the same minute, with the fixture's own
        r = w.client.post(
            "/v1/survivor/check-ins",
            json={"kind": "one_off", "due_at": due, "template": "pharmacy"},
            headers=auth_header(w.survivor_token),
        )
        assert r.status_code == 201
    calls: list[int] = []
    registry = job_registry(w.runtime)
    send = registry.types[SEND_JOB]
    real = send.batch_handler
    assert real is not None

    def counting(ctx: jobs.JobContext, payloads: list[dict[str, Any]]) -> None:
        calls.append(len(payloads))
        real(ctx, payloads)

    send.batch_handler = counting
    w.clock.advance(minutes=11)
    make_job_runner(w.runtime, registry)()
    assert sum(calls) == 60
    assert max(calls) > 1  # several check-ins per transaction
    assert len(_send_requests(w)) == 60
    w.session.expire_all()
    occurrences = w.session.scalars(select(CheckinOccurrence)).all()
    assert {o.state for o in occurrences} == {states.SENT}
    rows = w.session.scalars(select(OutboundSms)).all()
    assert len({r.id for r in rows}) == len({o.outbound_sms_id for o in occurrences}) == 60
    assert all(r.provider_sid for r in rows)
    assert audit.verify(w.session).ok
