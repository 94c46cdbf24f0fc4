"""Outbound SMS through the official Twilio client over an in-process fake HTTP client.

Proves: a send carries the right request; 5xx, 429 and timeouts are retried with backoff and
then succeed; permanent errors (21610 opted out, 21211 invalid) are not retried, are recorded
and call the failure hooks once; retries run out into a recorded failure; an opted-out number
is never sent to; delivery schedules redaction at Twilio.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.wiring import wire
from core import jobs
from core.clock import FrozenClock
from core.crypto import phone_index
from core.runtime import Runtime
from messaging.models import OutboundSms, SmsStatusEvent
from messaging.sms import sending
from messaging.sms.sending import queue_sms
from tests.factories import make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SERVICE_SID,
    FakeTwilioHttp,
    RunJobs,
    post_signed,
    timeout_error,
    twilio_error,
)

PHONE = "+14155550123"
BODY = "Reminder: your order is ready"


class Hooks:
    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, str, uuid.UUID | None]] = []

    def __call__(
        self, session: Session, clock: Any, sms_id: uuid.UUID, purpose: str, ref: uuid.UUID | None
    ) -> None:
        self.calls.append((sms_id, purpose, ref))


@pytest.fixture
def hooks(twilio_app: Flask, runtime: Runtime) -> Hooks:
    h = Hooks()
    wire(runtime).hooks.sms_failure.register("test.hooks", h)
    return h


def _queue(
    db_session: Session, runtime: Runtime, purpose: str = "check_in"
) -> tuple[OutboundSms, uuid.UUID]:
    survivor, _ = make_survivor(db_session, runtime)
    ref = uuid.uuid4()
    row = queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=PHONE,
        body=BODY,
        purpose=purpose,
        reference_id=ref,
        survivor_id=survivor.id,
    )
    db_session.commit()
    return row, ref


def _reload(db_session: Session, row: OutboundSms) -> OutboundSms:
    db_session.expire_all()
    fresh = db_session.get(OutboundSms, row.id)
    assert fresh is not None
    return fresh


def _job(db_session: Session, row: OutboundSms) -> jobs.Job:
    db_session.expire_all()
    return db_session.scalars(
        select(jobs.Job).where(jobs.Job.dedupe_key == f"sms.send:{row.id}")
    ).one()


def test_send_success_uses_service_sid_and_callback(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
) -> None:
    row, _ = _queue(db_session, runtime)
    assert row.status == "queued"
    assert row.provider_sid is None
    run_jobs()
    assert len(fake_http.requests) == 1
    req = fake_http.requests[0]
    assert req.method == "POST"
    assert req.url.endswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert req.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert req.data["To"] == PHONE
    assert req.data["Body"] == BODY
    assert req.data["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in req.data
    assert req.data["StatusCallback"] == PUBLIC_URL + "/v1/sms/status"
    fresh = _reload(db_session, row)
    assert fresh.provider_sid is not None
    assert fresh.provider_sid.startswith("SM")
    assert fresh.submitted_at == runtime.clock.now()
    assert fresh.status == "queued"  # Twilio's own status callbacks move it on
    assert _job(db_session, row).state == jobs.DONE
    assert hooks.calls == []
    run_jobs()
    assert len(fake_http.requests) == 1  # never sent twice


@pytest.mark.parametrize(
    "failure",
    [twilio_error(500, 20500), twilio_error(503, 20503), twilio_error(429, 20429), "timeout"],
    ids=["500", "503", "429", "timeout"],
)
def test_transient_failure_is_retried_with_backoff_then_succeeds(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
    failure: Any,
) -> None:
    fake_http.script = [timeout_error() if failure == "timeout" else failure]
    row, _ = _queue(db_session, runtime)
    run_jobs()
    assert len(fake_http.requests) == 1
    fresh = _reload(db_session, row)
    assert fresh.status == "queued"
    assert fresh.provider_sid is None
    assert fresh.attempt_started_at is None  # Twilio did not take it: safe to send again
    job = _job(db_session, row)
    assert job.state == jobs.PENDING
    assert job.attempts == 1
    assert job.run_at > runtime.clock.now()  # backed off, not hammering
    run_jobs()
    assert len(fake_http.requests) == 1  # not due yet
    clock.advance(seconds=60)
    run_jobs()
    assert len(fake_http.requests) == 2
    assert _reload(db_session, row).provider_sid is not None
    assert _job(db_session, row).state == jobs.DONE
    assert hooks.calls == []


def test_a_send_whose_outcome_is_unknown_is_never_repeated(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    # The gateway blew up in a way that says nothing of whether Twilio took the text.
    fake_http.script = [RuntimeError("the connection broke in an unexpected way")]
    row, _ = _queue(db_session, runtime, purpose="conversation")
    run_jobs()
    fresh = _reload(db_session, row)
    assert (fresh.status, fresh.failure_reason) == ("failed", "outcome_unknown")
    assert _job(db_session, row).state == jobs.DONE
    clock.advance(hours=1)
    run_jobs()
    assert len(fake_http.requests) == 1


def test_a_try_cut_off_during_the_call_is_never_repeated(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    # What a worker SIGKILLed while Twilio had the request leaves behind: the mark committed
    # before the call, no SID, the job still running under a lease that will run out.
    row, _ = _queue(db_session, runtime, purpose="conversation")
    row.attempt_started_at = runtime.clock.now()
    db_session.commit()
    run_jobs()
    assert fake_http.requests == []  # never sent a second time
    fresh = _reload(db_session, row)
    assert (fresh.status, fresh.failure_reason) == ("failed", "outcome_unknown")


@pytest.mark.parametrize("code", [21610, 21211])
def test_permanent_failure_is_not_retried_and_calls_hooks_once(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
    code: int,
) -> None:
    fake_http.script = [twilio_error(400, code)]
    row, ref = _queue(db_session, runtime)
    run_jobs()
    fresh = _reload(db_session, row)
    assert fresh.status == "failed"
    assert fresh.failure_reason == f"provider_{code}"
    assert fresh.body_enc is None  # final: the text is dropped
    assert hooks.calls == [(row.id, "check_in", ref)]
    assert _job(db_session, row).state == jobs.DONE
    clock.advance(hours=5)
    run_jobs()
    assert len(fake_http.requests) == 1
    assert len(hooks.calls) == 1


def test_conversation_purpose_failure_does_not_call_hooks(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
) -> None:
    fake_http.script = [twilio_error(400, 21211)]
    row, _ = _queue(db_session, runtime, purpose="conversation")
    run_jobs()
    assert _reload(db_session, row).status == "failed"
    assert hooks.calls == []


def test_retries_exhausted_is_recorded_as_failure(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
) -> None:
    fake_http.script = [twilio_error(503, 20503)] * sending.SEND_MAX_ATTEMPTS
    row, ref = _queue(db_session, runtime)
    for _ in range(sending.SEND_MAX_ATTEMPTS):
        run_jobs()
        clock.advance(hours=2)
    assert len(fake_http.requests) == sending.SEND_MAX_ATTEMPTS
    fresh = _reload(db_session, row)
    assert fresh.status == "failed"
    assert fresh.failure_reason == "retries_exhausted"
    assert hooks.calls == [(row.id, "check_in", ref)]
    run_jobs()
    assert len(fake_http.requests) == sending.SEND_MAX_ATTEMPTS


def test_opted_out_number_is_never_sent_to(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
) -> None:
    row, ref = _queue(db_session, runtime)
    # STOP arrives between queueing and sending: the check is made at send time.
    sending.set_opt_out(db_session, runtime.clock, phone_index(runtime.keyring, PHONE), True)
    db_session.commit()
    run_jobs()
    assert fake_http.requests == []
    fresh = _reload(db_session, row)
    assert (fresh.status, fresh.failure_reason) == ("failed", "opted_out")
    assert hooks.calls == [(row.id, "check_in", ref)]


def test_staff_phone_is_sealed_under_purpose_key_and_sent(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    staff, _ = make_staff(db_session, runtime)
    row = queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164="+12025550173",
        body="Please log in",
        purpose="advocate_alert",
        staff_id=staff.id,
    )
    db_session.commit()
    assert b"2025550173" not in row.to_enc
    run_jobs()
    assert fake_http.requests[0].data["To"] == "+12025550173"
    assert _reload(db_session, row).provider_sid is not None


def test_queue_refuses_bad_arguments(db_session: Session, runtime: Runtime) -> None:
    survivor, _ = make_survivor(db_session, runtime)
    common: dict[str, Any] = {"to_e164": PHONE, "body": BODY, "purpose": "check_in"}
    with pytest.raises(ValueError):
        queue_sms(db_session, runtime.clock, runtime.vault, **common)  # no owner
    with pytest.raises(ValueError):
        queue_sms(
            db_session,
            runtime.clock,
            runtime.vault,
            **{**common, "purpose": "x"},
            survivor_id=survivor.id,
        )
    with pytest.raises(ValueError):
        queue_sms(
            db_session,
            runtime.clock,
            runtime.vault,
            **{**common, "body": "x" * 1601},
            survivor_id=survivor.id,
        )


def _deliver(db_session: Session, runtime: Runtime, row: OutboundSms) -> None:
    fresh = _reload(db_session, row)
    sending.advance_status(db_session, runtime.clock, wire(runtime).sms, fresh, "delivered")
    db_session.commit()


def test_delivery_schedules_redaction_at_twilio(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    row, _ = _queue(db_session, runtime)
    run_jobs()
    sid = _reload(db_session, row).provider_sid
    _deliver(db_session, runtime, row)
    run_jobs()
    assert len(fake_http.requests) == 2
    redact = fake_http.requests[1]
    assert redact.method == "POST"
    assert redact.url.endswith(f"/Accounts/{ACCOUNT_SID}/Messages/{sid}.json")
    assert redact.data == {"Body": ""}
    fresh = _reload(db_session, row)
    assert fresh.redacted_at == runtime.clock.now()
    assert fresh.body_enc is None


def test_redaction_retries_transient_and_stops_on_permanent(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    row, _ = _queue(db_session, runtime)
    run_jobs()
    fake_http.script = [twilio_error(502, 20502), twilio_error(404, 20404)]
    _deliver(db_session, runtime, row)
    run_jobs()
    assert _reload(db_session, row).redacted_at is None
    clock.advance(minutes=5)
    run_jobs()
    assert len(fake_http.requests) == 3
    clock.advance(hours=5)
    run_jobs()
    assert len(fake_http.requests) == 3  # 404: nothing left to redact, no more tries


def test_no_redaction_when_disabled(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    wire(runtime).sms.redact = False
    row, _ = _queue(db_session, runtime)
    run_jobs()
    _deliver(db_session, runtime, row)
    run_jobs()
    assert len(fake_http.requests) == 1
    assert _reload(db_session, row).redacted_at is None


def test_status_that_arrives_before_the_sid_is_recorded_is_applied_by_the_job(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
    hooks: Hooks,
) -> None:
    sid = "SM" + "ab" * 16
    fake_http.script = [(201, {"sid": sid, "status": "queued", "account_sid": ACCOUNT_SID})]
    row, ref = _queue(db_session, runtime)
    client = JsonClient(twilio_app)
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_signed(client, "/v1/sms/status", params).status_code == 200
    db_session.expire_all()
    assert db_session.scalars(select(SmsStatusEvent.provider_sid)).all() == [sid]
    run_jobs()
    fresh = _reload(db_session, row)
    assert (fresh.provider_sid, fresh.status, fresh.failure_reason) == (
        sid,
        "undelivered",
        "provider_30003",
    )
    assert hooks.calls == [(row.id, "check_in", ref)]
    assert db_session.scalars(select(SmsStatusEvent)).all() == []


def test_unclaimed_early_statuses_are_pruned_after_a_day(
    twilio_app: Flask, db_session: Session, clock: FrozenClock, run_jobs: RunJobs
) -> None:
    client = JsonClient(twilio_app)
    params = {"MessageSid": "SM" + "cd" * 16, "MessageStatus": "delivered"}
    assert post_signed(client, "/v1/sms/status", params).status_code == 200
    bogus = {"MessageSid": "not-a-sid", "MessageStatus": "delivered"}
    assert post_signed(client, "/v1/sms/status", bogus).status_code == 200
    db_session.expire_all()
    assert len(db_session.scalars(select(SmsStatusEvent)).all()) == 1  # the bogus one is not kept
    clock.advance(hours=23)
    run_jobs()
    db_session.expire_all()
    assert len(db_session.scalars(select(SmsStatusEvent)).all()) == 1
    clock.advance(hours=2)
    run_jobs()
    db_session.expire_all()
    assert db_session.scalars(select(SmsStatusEvent)).all() == []


def test_queue_survivor_sms_uses_the_stored_number(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    from messaging.phone import set_phone

    with_phone, _ = make_survivor(db_session, runtime)
    without, _ = make_survivor(db_session, runtime)
    set_phone(db_session, runtime.vault, with_phone.id, PHONE)
    row = sending.queue_survivor_sms(
        db_session, runtime.clock, runtime.vault, with_phone.id, body=BODY, purpose="check_in"
    )
    none = sending.queue_survivor_sms(
        db_session, runtime.clock, runtime.vault, without.id, body=BODY, purpose="check_in"
    )
    db_session.commit()
    assert row is not None
    assert none is None
    run_jobs()
    assert [r.data["To"] for r in fake_http.requests] == [PHONE]


def test_message_of_an_erased_survivor_is_failed_not_retried(
    twilio_app: Flask,
    db_session: Session,
    runtime: Runtime,
    fake_http: FakeTwilioHttp,
    run_jobs: RunJobs,
) -> None:
    row, _ = _queue(db_session, runtime)
    assert row.survivor_id is not None
    runtime.vault.erase(db_session, row.survivor_id)  # crypto-shredded before the send
    db_session.commit()
    run_jobs()
    assert fake_http.requests == []
    fresh = _reload(db_session, row)
    assert (fresh.status, fresh.failure_reason) == ("failed", "erased")
    assert _job(db_session, row).state == jobs.DONE
