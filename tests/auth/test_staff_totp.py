"""TOTP: drift of one step, no replays, sealed seeds, enrolment and reset."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.staff import recovery, totp
from auth.staff.models import StaffMember, StaffRecoveryCode, StaffSession
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import KeyRing
from core.errors import CryptoError
from core.runtime import Runtime
from tests.auth.factories_staff import (
    code,
    fresh_code,
    headers,
    login,
    login_ticket,
    make_member,
    post,
)
from tests.json_client import JsonClient

STEP = dt.timedelta(seconds=30)


# --- the primitives -------------------------------------------------------------------------


def test_one_step_of_drift_either_way_and_no_more(clock: FrozenClock) -> None:
    seed = totp.new_seed()
    now = clock.now()
    current = totp.step_at(now)
    assert totp.matching_step(seed, code(seed, now), now) == current
    assert totp.matching_step(seed, code(seed, now - STEP), now) == current - 1
    assert totp.matching_step(seed, code(seed, now + STEP), now) == current + 1
    assert totp.matching_step(seed, code(seed, now - 2 * STEP), now) is None
    assert totp.matching_step(seed, code(seed, now + 2 * STEP), now) is None
    assert totp.matching_step(seed, "12345", now) is None
    assert totp.matching_step(seed, "abcdef", now) is None
    spaced = code(seed, now)[:3] + " " + code(seed, now)[3:]
    assert totp.matching_step(seed, spaced, now) == current


def test_codes_come_from_the_injected_clock_not_the_system_time() -> None:
    seed = totp.new_seed()
    past = FrozenClock(dt.datetime(2001, 9, 9, 1, 46, 40, tzinfo=dt.UTC))
    assert totp.matching_step(seed, pyotp.TOTP(seed).at(past.now()), past.now()) == (
        1_000_000_000 // 30
    )


def test_a_code_or_any_older_step_is_never_accepted_twice(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    assert staff.seed is not None
    now = clock.now()
    ok = totp.verify_code(db_session, runtime.keyring, staff.member, code(staff.seed, now), now)
    assert ok
    assert staff.member.totp_last_step == totp.step_at(now)
    # Replay inside the same window.
    assert not totp.verify_code(
        db_session, runtime.keyring, staff.member, code(staff.seed, now), now
    )
    # An older step, still inside the drift window, is refused after a newer one was used.
    assert not totp.verify_code(
        db_session, runtime.keyring, staff.member, code(staff.seed, now - STEP), now
    )
    later = now + STEP
    assert totp.verify_code(
        db_session, runtime.keyring, staff.member, code(staff.seed, later), later
    )
    db_session.expire_all()
    assert db_session.get_one(StaffMember, staff.member.id).totp_last_step == totp.step_at(later)


def test_seed_is_sealed_and_bound_to_its_member(db_session: Session, runtime: Runtime) -> None:
    staff = make_member(db_session, runtime)
    sealed = staff.member.totp_secret_enc
    assert sealed is not None
    assert staff.seed is not None
    assert staff.seed.encode() not in sealed
    ring: KeyRing = runtime.keyring
    col = totp.ACTIVE_COLUMN
    assert totp.open_seed(ring, staff.member.id, sealed, column=col) == staff.seed
    with pytest.raises(CryptoError):
        totp.open_seed(ring, uuid.uuid4(), sealed, column=col)  # another member's row
    with pytest.raises(CryptoError):
        totp.open_seed(ring, staff.member.id, sealed, column=totp.PENDING_COLUMN)


def test_provisioning_uri_and_svg() -> None:
    seed = totp.new_seed()
    p = totp.provisioning(seed, "robin@lantern.test")
    uri = urlparse(p.otpauth_uri)
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    query = parse_qs(uri.query)
    assert query["secret"] == [seed]
    assert query["issuer"] == ["Lantern"]
    assert p.qr_svg.startswith("<svg")
    assert p.qr_svg.rstrip().endswith("</svg>")


# --- enrolment over HTTP --------------------------------------------------------------------


def _enrol_ticket(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> tuple[str, StaffMember]:
    staff = make_member(db_session, runtime, enrolled=False)
    return login_ticket(client, staff), staff.member


def test_unenrolled_staff_reach_nothing_but_enrolment(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    token, _ = _enrol_ticket(client, db_session, runtime)
    for url in ("/v1/staff/sessions", "/v1/staff/caseload"):
        r = client.get(url, headers=headers(token))
        assert r.status_code == 403, url
        assert r.json["type"].endswith("totp-enrollment-required"), url
    r = post(client, "/v1/staff/step-up", {"code": "123456"}, token)
    assert r.status_code == 403
    assert client.get("/v1/staff/me", headers=headers(token)).json["enrolled"] is False


def test_enrolment_confirmed_by_a_code_gives_codes_and_a_new_full_session(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    token, member = _enrol_ticket(client, db_session, runtime)
    assert post(client, "/v1/staff/totp/confirm", {"code": "123456"}, token).status_code == 409
    first = post(client, "/v1/staff/totp/enroll", None, token)
    assert first.status_code == 200
    # Asking again replaces the unconfirmed seed: only the newest QR code counts.
    r = post(client, "/v1/staff/totp/enroll", None, token)
    seed = parse_qs(urlparse(r.json["otpauth_uri"]).query)["secret"][0]
    old_seed = parse_qs(urlparse(first.json["otpauth_uri"]).query)["secret"][0]
    assert seed != old_seed
    assert "<svg" in r.json["qr_svg"]
    old = post(client, "/v1/staff/totp/confirm", {"code": code(old_seed, clock.now())}, token)
    assert old.status_code == 403
    wrong = post(client, "/v1/staff/totp/confirm", {"code": "000000"}, token)
    assert wrong.status_code == 403

    r = post(client, "/v1/staff/totp/confirm", {"code": code(seed, clock.now())}, token)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.json
    assert body is not None
    codes = body["recovery_codes"]
    assert len(codes) == 10
    assert all(re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}", c) for c in codes)
    full = body["session_token"]
    assert full != token
    assert client.get("/v1/staff/me", headers=headers(token)).status_code == 401
    me = client.get("/v1/staff/me", headers=headers(full)).json
    assert me is not None
    assert me["enrolled"] is True
    assert me["session_stage"] == "full"
    assert client.get("/v1/staff/sessions", headers=headers(full)).status_code == 200

    db_session.expire_all()
    stored = db_session.get(StaffMember, member.id)
    assert stored is not None
    assert stored.totp_pending_enc is None
    assert stored.totp_last_step == totp.step_at(clock.now())  # the confirming code is spent
    hashes = db_session.scalars(
        select(StaffRecoveryCode.code_hash).where(StaffRecoveryCode.staff_id == member.id)
    ).all()
    assert len(hashes) == 10
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(c.replace("-", "") in h for c in codes for h in hashes)
    # The code that confirmed enrolment cannot also log in.
    ticket = post(
        client,
        "/v1/staff/login",
        {"email": stored.email, "password": "violet harbour kettle quantum 7"},
    )
    step2 = post(
        client,
        "/v1/staff/login/code",
        {"login_token": ticket.json["login_token"], "code": code(seed, clock.now())},
    )
    assert step2.status_code == 401
    events = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == member.id)
    ).all()
    assert "staff.totp_enrolled" in events


def test_full_session_cannot_enrol_without_a_reset(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    token = login(client, staff, clock)
    assert post(client, "/v1/staff/totp/enroll", None, token).status_code == 403


def test_totp_reset_needs_password_and_code_and_keeps_old_seed_until_confirmed(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    assert staff.seed is not None
    token = login(client, staff, clock)
    other = login(client, staff, clock)
    wrong = post(
        client,
        "/v1/staff/totp/reset",
        {"current_password": "not my password!", "code": fresh_code(staff.seed, clock)},
        token,
    )
    assert wrong.status_code == 403
    r = post(
        client,
        "/v1/staff/totp/reset",
        {"current_password": staff.password, "code": fresh_code(staff.seed, clock)},
        token,
    )
    assert r.status_code == 200
    assert r.json == {"next": "enroll"}
    # Other sessions ended; this one may now only enrol.
    assert client.get("/v1/staff/me", headers=headers(other)).status_code == 401
    assert client.get("/v1/staff/sessions", headers=headers(token)).status_code == 403
    # Abandoning the reset locks nobody out: the old seed still logs in.
    assert login(client, staff, clock)

    seed_uri = post(client, "/v1/staff/totp/enroll", None, token).json["otpauth_uri"]
    new_seed = parse_qs(urlparse(seed_uri).query)["secret"][0]
    confirmed = post(client, "/v1/staff/totp/confirm", {"code": code(new_seed, clock.now())}, token)
    assert confirmed.status_code == 200
    full = confirmed.json["session_token"]
    assert client.get("/v1/staff/sessions", headers=headers(full)).status_code == 200
    # The old seed no longer works; the new one does.
    staff.seed = new_seed
    assert login(client, staff, clock)
    reset = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.totp_enrolled")
    ).one()
    assert reset.details["reset"] is True


def test_totp_reset_with_a_recovery_code(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    codes = recovery.issue(db_session, runtime.hasher, clock, staff.member.id)
    token = login(client, staff, clock)
    r = post(
        client,
        "/v1/staff/totp/reset",
        {"current_password": staff.password, "recovery_code": codes[0]},
        token,
    )
    assert r.status_code == 200
    assert recovery.remaining(db_session, staff.member.id) == 9
    session_row = db_session.scalars(
        select(StaffSession).where(StaffSession.revoked_at.is_(None))
    ).one()
    assert session_row.stage == "enroll"
