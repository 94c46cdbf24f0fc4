"""The console gateway and the choice of gateway by settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from api.wiring import wire
from core.crypto import KeyRing
from core.errors import ConfigurationError
from core.runtime import Runtime
from messaging.sms.gateway import (
    ConsoleSmsGateway,
    PermanentSmsError,
    TransientSmsError,
    TwilioSmsGateway,
    gateway_from_settings,
)
from messaging.sms.sending import queue_sms
from tests.conftest import make_settings
from tests.factories import make_survivor
from tests.messaging.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SERVICE_SID,
    FakeTwilioHttp,
    RunJobs,
    twilio_error,
)

PHONE = "+14155550123"
BODY = "See you at 6, bring the blue folder"


def test_console_prints_masked_line_and_logs_nothing_identifying(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    gw = ConsoleSmsGateway()
    with caplog.at_level(logging.DEBUG):
        sid = gw.send(PHONE, BODY, None)
    out = capsys.readouterr().out
    assert out.strip() == f"console sms to ***23: {len(BODY)} chars"
    for text in (out, caplog.text, *(str(r.__dict__) for r in caplog.records)):
        assert "5550123" not in text
        assert "blue folder" not in text
    assert gw.sent[0].sid == sid
    assert gw.sent[0].to == PHONE
    assert gw.sent[0].body == BODY
    gw.redact(sid)
    assert gw.sent[0].body == ""
    assert gw.redacted == [sid]


def test_console_backend_sends_through_the_job(
    console_app: Flask, db_session: Session, runtime: Runtime, run_jobs: RunJobs
) -> None:
    survivor, _ = make_survivor(db_session, runtime)
    queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=PHONE,
        body=BODY,
        purpose="check_in",
        survivor_id=survivor.id,
    )
    db_session.commit()
    gw = wire(runtime).sms.gateway
    assert isinstance(gw, ConsoleSmsGateway)
    assert gw.sent == []  # nothing is sent inside the request or transaction
    run_jobs()
    assert [(s.to, s.body) for s in gw.sent] == [(PHONE, BODY)]
    assert gw.sent[0].status_callback_url == "https://lantern.test/v1/sms/status"


def test_gateway_by_settings(tmp_path: Path, keyring: KeyRing) -> None:
    base = make_settings(tmp_path, "sqlite://", keyring)
    assert isinstance(gateway_from_settings(base), ConsoleSmsGateway)
    tw = base.replace(
        sms_backend="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number="+15005550006",
        twilio_api_base_url="http://127.0.0.1:4010/",
    )
    gw = gateway_from_settings(tw, http_client=FakeTwilioHttp())
    assert isinstance(gw, TwilioSmsGateway)
    assert gw.client.api.base_url == "http://127.0.0.1:4010"
    with pytest.raises(ConfigurationError):
        gateway_from_settings(base.replace(sms_backend="carrier-pigeon"))
    with pytest.raises(ConfigurationError):
        gateway_from_settings(tw.replace(twilio_auth_token=""))
    with pytest.raises(ConfigurationError):
        gateway_from_settings(tw.replace(twilio_from_number=""))


def test_twilio_from_number_when_no_service_sid() -> None:
    http = FakeTwilioHttp()
    gw = TwilioSmsGateway(ACCOUNT_SID, AUTH_TOKEN, from_number="+15005550006", http_client=http)
    gw.send(PHONE, BODY, None)
    assert http.requests[0].data["From"] == "+15005550006"
    assert "MessagingServiceSid" not in http.requests[0].data
    assert "StatusCallback" not in http.requests[0].data


def test_twilio_errors_are_classified() -> None:
    http = FakeTwilioHttp(script=[twilio_error(400, 21610), twilio_error(503, 20503)])
    gw = TwilioSmsGateway(
        ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, http_client=http
    )
    with pytest.raises(PermanentSmsError) as perm:
        gw.send(PHONE, BODY, None)
    assert perm.value.code == 21610
    assert perm.value.status == 400
    assert PHONE not in str(perm.value)
    assert BODY not in str(perm.value)
    with pytest.raises(TransientSmsError):
        gw.send(PHONE, BODY, None)


def test_production_requires_twilio_settings_for_twilio_backend(
    tmp_path: Path, keyring: KeyRing
) -> None:
    prod = make_settings(
        tmp_path,
        "postgresql://db/x",
        keyring,
        env="production",
        sms_backend="twilio",
        audit_checkpoints_path=str(tmp_path / "audit-checkpoints.jsonl"),
    )
    with pytest.raises(ConfigurationError, match="LANTERN_TWILIO_ACCOUNT_SID"):
        prod.check_production()
    prod.replace(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_messaging_service_sid=SERVICE_SID,
    ).check_production()
