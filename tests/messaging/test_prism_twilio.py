"""Integration: the official ``twilio`` client against a Prism mock of Twilio's own contract.

A valid send is accepted by the contract and recorded with the provider's SID; a malformed
one (an AccountSid the contract refuses, or no To) is refused with 422, which the gateway
sorts as permanent and the job records as a failure (no retry, failure hooks called).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from twilio.base import values

from api.app import create_app
from api.wiring import wire
from core import jobs
from core.runtime import Runtime
from messaging.models import OutboundSms
from messaging.sms.gateway import PermanentSmsError, TwilioSmsGateway, gateway_from_settings
from messaging.sms.sending import queue_sms
from tests.factories import make_survivor
from tests.messaging.conftest import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, RunJobs

# Prism (node, Twilio's whole contract) takes about 20 s to start: these run in `make test-all`
# and CI, which install it, and stay out of the minutes-long `make test`.
pytestmark = pytest.mark.prism

PHONE = "+14155550188"


def _app(runtime: Runtime, prism_url: str, account_sid: str) -> Flask:
    runtime.settings = runtime.settings.replace(
        sms_backend="twilio",
        twilio_account_sid=account_sid,
        twilio_auth_token=AUTH_TOKEN,
        twilio_messaging_service_sid=SERVICE_SID,
        twilio_api_base_url=prism_url,
    )
    return create_app(runtime.settings, runtime=runtime)


def _queue(db_session: Session, runtime: Runtime) -> OutboundSms:
    survivor, _ = make_survivor(db_session, runtime)
    row = queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=PHONE,
        body="Your parcel is ready",
        purpose="check_in",
        reference_id=uuid.uuid4(),
        survivor_id=survivor.id,
    )
    db_session.commit()
    return row


def test_valid_send_is_accepted_by_the_contract(
    prism_url: str, runtime: Runtime, db_session: Session, run_jobs: RunJobs
) -> None:
    _app(runtime, prism_url, ACCOUNT_SID)
    assert isinstance(wire(runtime).sms.gateway, TwilioSmsGateway)  # chosen by settings
    row = _queue(db_session, runtime)
    run_jobs()
    db_session.expire_all()
    fresh = db_session.get(OutboundSms, row.id)
    assert fresh is not None
    assert fresh.provider_sid is not None
    assert fresh.provider_sid.startswith("SM")
    assert fresh.status == "queued"
    assert fresh.failure_reason is None
    assert fresh.submitted_at is not None


def test_bad_account_sid_is_refused_and_recorded_as_permanent_failure(
    prism_url: str, runtime: Runtime, db_session: Session, run_jobs: RunJobs
) -> None:
    _app(runtime, prism_url, "ACnot-a-valid-sid")
    calls: list[Any] = []
    wire(runtime).hooks.sms_failure.register("test.calls", lambda *a: calls.append(a[2:]))
    row = _queue(db_session, runtime)
    run_jobs()
    db_session.expire_all()
    fresh = db_session.get(OutboundSms, row.id)
    assert fresh is not None
    assert (fresh.status, fresh.failure_reason) == ("failed", "provider_422")
    assert fresh.provider_sid is None
    assert calls == [(row.id, "check_in", row.reference_id)]
    job = db_session.query(jobs.Job).filter(jobs.Job.dedupe_key == f"sms.send:{row.id}").one()
    assert job.state == jobs.DONE
    assert job.attempts == 1


def test_missing_to_is_refused_by_the_contract(prism_url: str, runtime: Runtime) -> None:
    settings = runtime.settings.replace(
        sms_backend="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_messaging_service_sid=SERVICE_SID,
        twilio_api_base_url=prism_url,
    )
    gw = gateway_from_settings(settings)
    with pytest.raises(PermanentSmsError) as err:
        gw.send(values.unset, "hello", None)
    assert err.value.status == 422


def test_redaction_update_is_accepted_by_the_contract(prism_url: str, runtime: Runtime) -> None:
    gw = TwilioSmsGateway(
        ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, api_base_url=prism_url
    )
    sid = gw.send(PHONE, "hello", "https://lantern.test/v1/sms/status")
    gw.redact(sid)  # raises on refusal
