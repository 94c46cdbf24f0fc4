"""Survivor enrollment: advocates' one-time codes and their redemption by the disguised app."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import attempts
from auth.access.models import CaseloadEntry
from auth.survivors import decoys
from auth.survivors.enrollment import CROCKFORD, code_digest, normalize_code
from auth.survivors.models import EnrollmentCode, Survivor, SurvivorDevice
from auth.survivors.pins import pin_problem
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import token_digest
from core.runtime import Runtime
from core.vault import DataKey
from tests.auth.attempt_probes import count, counters, retry_after
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from tests.json_client import JsonClient, JsonResponse

CODES = "/v1/staff/enrollment-codes"
ENROLL = "/v1/survivor/enroll"
CODE_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def full_width(digits: str) -> str:
    """The same digits as a CJK keyboard types them (U+FF10..U+FF19)."""
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def new_code(client: JsonClient, staff_token: str) -> str:
    r = client.post(CODES, headers=auth_header(staff_token))
    assert r.status_code == 201, r.get_data(as_text=True)
    return str(r.json["code"])


def enroll(client: JsonClient, code: str, addr: str = "10.1.0.1", **body: object) -> JsonResponse:
    payload = {"code": code, "pin": "482915", **body}
    return client.post(ENROLL, json=payload, environ_base={"REMOTE_ADDR": addr})


def test_advocate_creates_short_single_use_code_stored_as_keyed_digest(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, token = make_staff(db_session, runtime)
    r = client.post(CODES, headers=auth_header(token))
    assert r.status_code == 201
    code = r.json["code"]
    assert CODE_SHAPE.match(code), code
    # 12 Crockford characters: 12 * log2(32) = 60 bits.
    assert len(code.replace("-", "")) * 5 >= 60
    assert len(CROCKFORD) == 32
    assert dt.datetime.fromisoformat(r.json["expires_at"]) == clock.now() + dt.timedelta(hours=72)

    row = db_session.scalars(select(EnrollmentCode)).one()
    normalized = code.replace("-", "")
    assert row.code_digest == runtime.keyring.keyed_digest("enrollment-code", normalized)
    assert normalized not in row.code_digest
    assert row.created_by == advocate.id
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survivor.enrollment_code_created")
    ).one()
    assert event.actor_id == advocate.id
    assert event.subject_id == row.id
    # Two codes are different (random, not sequential).
    assert new_code(client, token) != code


def test_supervisor_may_create_codes_but_admin_survivor_partner_and_pending_staff_may_not(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    assert (
        client.post(
            CODES, headers=auth_header(make_staff(db_session, runtime, "supervisor")[1])
        ).status_code
        == 201
    )
    assert (
        client.post(
            CODES, headers=auth_header(make_staff(db_session, runtime, "admin")[1])
        ).status_code
        == 403
    )
    assert (
        client.post(CODES, headers=auth_header(make_survivor(db_session, runtime)[1])).status_code
        == 403
    )
    assert (
        client.post(CODES, headers=auth_header(make_agency(db_session, runtime)[1])).status_code
        == 403
    )
    pending = make_staff(db_session, runtime, enrolled=False)[1]
    assert client.post(CODES, headers=auth_header(pending)).status_code == 403
    assert client.post(CODES).status_code == 401
    assert db_session.scalars(select(EnrollmentCode)).all().__len__() == 1


def test_redeeming_creates_account_caseload_data_key_and_working_session(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    code = new_code(client, token)
    r = enroll(client, code, duress_pin="731064", device_label="Weather")
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.json
    assert set(body) == {"account_handle", "access_token", "refresh_token", "access_expires_at"}
    assert body["access_token"].startswith("sa_")
    assert body["refresh_token"].startswith("sr_")

    survivor = db_session.scalars(
        select(Survivor).where(Survivor.handle_digest == token_digest(body["account_handle"]))
    ).one()
    # No name, email or phone number was asked for or stored.
    assert survivor.phone_enc is None
    assert survivor.phone_index is None
    assert runtime.hasher.verify(survivor.pin_hash, "482915")
    # The duress PIN is the PIN of the survivor's decoy account: no handle, no caseload.
    decoy = decoys.decoy_account(db_session, survivor.id)
    assert decoy is not None
    assert runtime.hasher.verify(decoy.pin_hash, "731064")
    assert decoy.handle_digest is None
    assert (
        db_session.scalars(select(CaseloadEntry).where(CaseloadEntry.survivor_id == decoy.id)).all()
        == []
    )
    entry = db_session.scalars(
        select(CaseloadEntry).where(CaseloadEntry.survivor_id == survivor.id)
    ).one()
    assert entry.staff_id == advocate.id
    assert db_session.scalars(select(DataKey).where(DataKey.owner_id == survivor.id)).one()
    code_row = db_session.scalars(select(EnrollmentCode)).one()
    assert code_row.used_at is not None
    assert code_row.survivor_id == survivor.id
    device = db_session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.survivor_id == survivor.id)
    ).one()
    assert device.decoy is False
    assert b"Weather" not in (device.label_enc or b"")

    devices = client.get("/v1/survivor/devices", headers=auth_header(body["access_token"]))
    assert devices.status_code == 200
    assert devices.json[0]["label"] == "Weather"
    login = client.post(
        "/v1/survivor/login", json={"account_handle": body["account_handle"], "pin": "482915"}
    )
    assert login.status_code == 200
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert "survivor.enrolled" in actions


def test_code_is_typed_forgivingly() -> None:
    assert normalize_code("7kq2 m9xd 4tbn") == "7KQ2M9XD4TBN"
    assert normalize_code("7kq2-m9xd-4tbn") == "7KQ2M9XD4TBN"
    assert normalize_code(" 7KQ2 M9XD 4TBN ") == "7KQ2M9XD4TBN"
    assert normalize_code("OIL0-0000-0000") == "011000000000"
    assert normalize_code("7KQ2-M9XD-4TB") is None  # too short
    assert normalize_code("7KQ2-M9XD-4TBU") is None  # U is not Crockford


def test_lower_case_code_with_confusables_redeems(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, token = make_staff(db_session, runtime)
    code = new_code(client, token)
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert enroll(client, typed).status_code == 201


def test_used_unknown_expired_and_garbage_codes_answer_byte_identically(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _, token = make_staff(db_session, runtime)
    used = new_code(client, token)
    assert enroll(client, used).status_code == 201
    expired = new_code(client, token)
    clock.advance(hours=72, seconds=1)
    fresh = new_code(client, make_staff(db_session, runtime)[1])  # the first session timed out
    answers = [
        enroll(client, used, addr="10.2.0.1"),
        enroll(client, "ZZZZ-ZZZZ-ZZZZ", addr="10.2.0.2"),
        enroll(client, expired, addr="10.2.0.3"),
        enroll(client, "not a code at all", addr="10.2.0.4"),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.data for r in answers}) == 1
    assert b"request_id" not in answers[0].data
    assert answers[0].mimetype == "application/problem+json"
    # A failed attempt on a real code is counted on it; the fresh code still works.
    rows = {r.code_digest: r for r in db_session.scalars(select(EnrollmentCode))}
    assert rows[code_digest(runtime.keyring, used.replace("-", ""))].failed_attempts == 1
    assert rows[code_digest(runtime.keyring, expired.replace("-", ""))].failed_attempts == 1
    assert enroll(client, fresh, addr="10.2.0.5").status_code == 201
    # Only the two good redemptions created survivors.
    assert len(db_session.scalars(select(Survivor)).all()) == 2


def test_redemption_is_throttled_per_client_address_and_per_code(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _, token = make_staff(db_session, runtime)
    good = new_code(client, token)
    allowance = attempts.TOKEN_ADDRESS.allowance
    bad = [
        enroll(client, f"ZZZZ-ZZZZ-Z{i:02d}".replace("0", "A"), addr="10.3.0.1")
        for i in range(allowance)
    ]
    assert {r.status_code for r in bad} == {401}
    # The allowance is used up: now even a valid code from that address is refused, openly
    # (429 with Retry-After: the address's own state, before the code is looked at), and that
    # refusal is not counted.
    refused = enroll(client, good, addr="10.3.0.1")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    address = "enroll-client:10.3.0.1"
    assert count(runtime, db_session, attempts.TOKEN_ADDRESS, address) == allowance
    assert retry_after(runtime, db_session, attempts.TOKEN_ADDRESS, address) == 2
    # The code itself was not spent by the refused attempt: it works from another address.
    assert enroll(client, good, addr="10.3.0.2").status_code == 201

    # Per code: attempts at one code from many addresses are counted against the code, and
    # once its allowance is used up the code is refused from any address, valid or not.
    target = new_code(client, token)
    code_key = "enroll-code:" + code_digest(runtime.keyring, target.replace("-", ""))
    for _ in range(attempts.TOKEN.allowance):
        assert attempts.take(
            db_session, runtime.clock, counters(runtime), [(attempts.TOKEN, code_key)]
        )
    fresh_address = enroll(client, target, addr="10.4.0.1")
    assert fresh_address.status_code == 401
    assert fresh_address.data == bad[0].data
    clock.advance(seconds=retry_after(runtime, db_session, attempts.TOKEN, code_key))
    assert enroll(client, target, addr="10.4.0.2").status_code == 201
    # Spent codes tried again from many addresses count against the code too.
    for i in range(3):
        assert enroll(client, good, addr=f"10.5.0.{i}").status_code == 401
    used_key = "enroll-code:" + code_digest(runtime.keyring, good.replace("-", ""))
    assert count(runtime, db_session, attempts.TOKEN, used_key) == 3


@pytest.mark.parametrize(
    "pin",
    [
        "12345",  # too short
        "000000",
        "111111",
        "123456",
        "654321",
        "890123",
        "121212",
        "123123",
        "112112",
        "100001",  # two distinct digits
        "147258",  # keypad column
        "short phrase",  # 12 chars but...
        "aaaaaaaaaaaaaaa",
        "abcabcabcabc",
        " " * 14,
        "9" * 129,
    ],
)
def test_weak_or_oversized_pins_are_refused(
    client: JsonClient, db_session: Session, runtime: Runtime, pin: str
) -> None:
    _, token = make_staff(db_session, runtime)
    code = new_code(client, token)
    r = enroll(client, code, pin=pin)
    if pin == "short phrase":
        # Exactly 12 characters with enough variety is an acceptable passphrase.
        assert r.status_code == 201
        return
    assert r.status_code == 422, pin
    assert "pin" in r.json["errors"]
    # The code was not spent by a refused PIN.
    assert enroll(client, code).status_code == 201


@pytest.mark.parametrize(
    "pin", ["482915", "2580147369", "blue kettle on the stairs", full_width("829147")]
)
def test_reasonable_pins_and_passphrases_are_accepted(pin: str) -> None:
    assert pin_problem(pin) is None


def test_duress_pin_must_differ_and_follow_the_same_rules(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, token = make_staff(db_session, runtime)
    code = new_code(client, token)
    same = enroll(client, code, duress_pin="482915")
    assert same.status_code == 422
    assert "duress_pin" in same.json["errors"]
    # Same PIN typed with full-width digits is still the same PIN.
    assert enroll(client, code, duress_pin=full_width("482915")).status_code == 422
    weak = enroll(client, code, duress_pin="000000")
    assert weak.status_code == 422
    assert "duress_pin" in weak.json["errors"]
    assert enroll(client, code, duress_pin=None).status_code == 201


def test_enroll_refuses_personal_details_it_does_not_need(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, token = make_staff(db_session, runtime)
    code = new_code(client, token)
    r = enroll(client, code, name="Alex", phone="+447700900123")
    assert r.status_code == 422
    assert {"name", "phone"} <= set(r.json["errors"])
    assert b"+447700900123" not in r.data
    assert b"Alex" not in r.data
