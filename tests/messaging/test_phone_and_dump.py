"""The survivor's phone number (sealed, blind-indexed, no enumeration), and a database dump
that holds no message text and no phone number in clear."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.registry import load_models
from auth.survivors.models import Survivor
from core.crypto import phone_index
from core.db import Base
from core.notices import StaffNotice
from core.runtime import Runtime
from messaging.sms.sending import queue_sms
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import RunJobs, post_signed

PHONE_RAW = "+1 (415) 555-0177"
PHONE = "+14155550177"
DIGITS = "4155550177"


def test_set_and_clear_phone(app: Flask, db_session: Session, runtime: Runtime) -> None:
    advocate, _ = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    other_survivor, other_token = make_survivor(db_session, runtime)
    db_session.commit()
    c = JsonClient(app)
    r = c.put("/v1/survivor/phone", json={"phone": PHONE_RAW}, headers=auth_header(token))
    assert r.status_code == 204, r.get_data(as_text=True)
    db_session.expire_all()
    row = db_session.get(Survivor, survivor.id)
    assert row is not None
    assert row.phone_enc is not None
    assert row.phone_index == phone_index(runtime.keyring, PHONE)
    assert DIGITS.encode() not in row.phone_enc
    # The same number for another account: accepted like any other (a shared phone).
    r = c.put("/v1/survivor/phone", json={"phone": PHONE}, headers=auth_header(other_token))
    assert r.status_code == 204
    # Setting my own number again is fine.
    r = c.put("/v1/survivor/phone", json={"phone": PHONE}, headers=auth_header(token))
    assert r.status_code == 204
    r = c.put("/v1/survivor/phone", json={"phone": "12"}, headers=auth_header(token))
    assert r.status_code == 422
    assert "12" not in r.json.get("detail", "")
    assert c.delete("/v1/survivor/phone", headers=auth_header(token)).status_code == 204
    assert c.delete("/v1/survivor/phone", headers=auth_header(token)).status_code == 204
    # Set, (same again: no change), cleared, (cleared again: no change): two notices.
    db_session.expire_all()
    kinds = db_session.scalars(
        select(StaffNotice.kind).where(StaffNotice.recipient_id == advocate.id)
    ).all()
    assert kinds == ["sms_phone_changed", "sms_phone_changed"]
    db_session.expire_all()
    row = db_session.get(Survivor, survivor.id)
    assert row is not None
    assert row.phone_enc is None
    assert row.phone_index is None
    other = db_session.get(Survivor, other_survivor.id)
    assert other is not None
    assert other.phone_index == phone_index(runtime.keyring, PHONE)


def test_decoy_cannot_change_the_phone(app: Flask, db_session: Session, runtime: Runtime) -> None:
    survivor, token = make_survivor(db_session, runtime, decoy=True)
    db_session.commit()
    r = JsonClient(app).put(
        "/v1/survivor/phone", json={"phone": PHONE}, headers=auth_header(token)
    )
    assert r.status_code == 204
    db_session.expire_all()
    assert db_session.get_one(Survivor, survivor.id).phone_index is None


def _dump(db_session: Session) -> str:
    """Every row of every table, as text (bytes shown raw, so a clear value would show)."""
    load_models()
    db_session.expire_all()
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in db_session.execute(select(table)):
            for value in row:
                if isinstance(value, bytes):
                    parts.append(value.decode("latin-1"))
                else:
                    parts.append(str(value))
    return "\n".join(parts)


def test_database_dump_holds_no_message_text_and_no_phone_number(
    console_app: Flask, db_session: Session, runtime: Runtime, run_jobs: RunJobs
) -> None:
    advocate, staff_token = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()
    c = JsonClient(console_app)
    s, a = auth_header(token), auth_header(staff_token)
    assert c.put("/v1/survivor/phone", json={"phone": PHONE_RAW}, headers=s).status_code == 204
    canaries = ["CANARY-app-survivor-7d1f", "CANARY-app-staff-93ab", "CANARY-sms-in-55e2"]
    assert c.post("/v1/survivor/messages", json={"body": canaries[0]}, headers=s).status_code == 201
    path = f"/v1/staff/survivors/{survivor.id}/messages"
    assert c.post(path, json={"body": canaries[1]}, headers=a).status_code == 201
    params = {"MessageSid": "SM" + "1" * 32, "From": PHONE, "Body": canaries[2]}
    assert post_signed(c, "/v1/sms/inbound", params).status_code == 200
    staff_phone = "+12025550173"
    queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=PHONE,
        body="CANARY-out-survivor",
        purpose="check_in",
        survivor_id=survivor.id,
    )
    queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=staff_phone,
        body="CANARY-out-staff",
        purpose="advocate_alert",
        staff_id=advocate.id,
    )
    db_session.commit()
    dump = _dump(db_session)
    # The canaries reached the database (sealed), so their absence below means something.
    listed = c.get("/v1/survivor/messages", headers=s).json["items"]
    assert {m["body"] for m in listed} == {canaries[0], canaries[1], canaries[2]}
    for needle in [
        *canaries,
        "CANARY-out-survivor",
        "CANARY-out-staff",
        "CANARY",
        DIGITS,
        "2025550173",
        "555-0177",
    ]:
        assert needle not in dump, needle
    run_jobs()  # sent and final rows drop nothing they should keep in clear either
    dump = _dump(db_session)
    for needle in ["CANARY", DIGITS, "2025550173"]:
        assert needle not in dump, needle


def test_logs_never_carry_a_number_or_message_text(
    console_app: Flask,
    db_session: Session,
    runtime: Runtime,
    run_jobs: RunJobs,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    advocate, _staff_token = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()
    c = JsonClient(console_app)
    with caplog.at_level(logging.DEBUG):
        c.put("/v1/survivor/phone", json={"phone": PHONE_RAW}, headers=auth_header(token))
        c.post("/v1/survivor/messages", json={"body": "LOGCANARY-1"}, headers=auth_header(token))
        params = {"MessageSid": "SM" + "2" * 32, "From": PHONE, "Body": "LOGCANARY-2"}
        post_signed(c, "/v1/sms/inbound", params)
        post_signed(c, "/v1/sms/inbound", {**params, "MessageSid": "SM" + "3" * 32, "Body": "STOP"})
        row = queue_sms(
            db_session,
            runtime.clock,
            runtime.vault,
            to_e164=PHONE,
            body="LOGCANARY-3",
            purpose="check_in",
            survivor_id=survivor.id,
        )
        db_session.commit()
        run_jobs()  # opted out: fails, logged by id
        sid = "SM" + "4" * 32
        post_signed(c, "/v1/sms/status", {"MessageSid": sid, "MessageStatus": "failed"})
    captured = capfd.readouterr()
    text = "\n".join(
        [caplog.text, captured.out, captured.err, *(str(r.__dict__) for r in caplog.records)]
    )
    # The flow was logged (sms_failed names the row by id), so the absences mean something.
    assert any(getattr(r, "event", None) == "sms_failed" for r in caplog.records)
    assert row.purpose in text
    for needle in ("LOGCANARY", DIGITS, "555-0177"):
        assert needle not in text, needle
