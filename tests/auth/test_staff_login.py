"""Two-step staff login: success, and every failure answering exactly the same."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import attempts
from auth.attempts import CLIENT_ADDRESS, STAFF_ACCOUNT
from auth.staff import recovery
from auth.staff.models import StaffSession
from auth.staff.sessions import account_subject as _account
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.notices import StaffNotice
from core.runtime import Runtime
from tests.auth.attempt_probes import count, counter, counters, retry_after
from tests.auth.factories_staff import (
    Staff,
    code,
    fresh_code,
    headers,
    login,
    login_ticket,
    make_member,
    post,
)
from tests.json_client import JsonClient, JsonResponse


def _code_step(client: JsonClient, ticket: str, **factor: str) -> JsonResponse:
    return post(client, "/v1/staff/login/code", {"login_token": ticket, **factor})


def _password_step(client: JsonClient, email: str, password: str) -> JsonResponse:
    return post(client, "/v1/staff/login", {"email": email, "password": password})


def account_subject(email: str, network: str = "127.0.0.1") -> str:
    """The account as tried from the test client's network (per-network account lock)."""
    return f"{_account(email)}|{network}"


def _fail_account(runtime: Runtime, db_session: Session, email: str, times: int) -> None:
    """``times`` failed attempts at the account in a row, each after the last lock ran out."""
    subject = account_subject(email)
    for _ in range(times):
        wait = retry_after(runtime, db_session, STAFF_ACCOUNT, subject)
        if wait:
            assert isinstance(runtime.clock, FrozenClock)
            runtime.clock.advance(seconds=wait)
        assert (
            attempts.take(db_session, runtime.clock, counters(runtime), [(STAFF_ACCOUNT, subject)])
            is not None
        )


def _retry_after(runtime: Runtime, db_session: Session, email: str) -> float:
    return retry_after(runtime, db_session, STAFF_ACCOUNT, account_subject(email))


def _events(db_session: Session, action: str) -> list[AuditEvent]:
    return list(
        db_session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def test_two_step_login_moves_one_row_to_full_under_a_new_token(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    r = _password_step(client, staff.email.upper(), staff.password)  # email case is ignored
    assert r.status_code == 200
    assert r.json is not None
    assert r.json["next"] == "code"
    ticket = r.json["login_token"]
    assert ticket.startswith("st_")
    assert len(ticket) >= 3 + 43
    row = db_session.scalars(
        select(StaffSession).where(StaffSession.staff_id == staff.member.id)
    ).one()
    assert row.stage == "password"
    assert row.expires_at == clock.now() + dt.timedelta(minutes=5)
    assert ticket not in row.token_digest  # stored digested

    # A password-only ticket opens nothing.
    assert client.get("/v1/staff/me", headers=headers(ticket)).status_code == 401

    assert staff.seed is not None
    r = _code_step(client, ticket, code=code(staff.seed, clock.now()))
    assert r.status_code == 200, r.get_data(as_text=True)
    token = r.json["session_token"]
    assert token != ticket
    assert token.startswith("st_")
    db_session.expire_all()
    rows = db_session.scalars(
        select(StaffSession).where(StaffSession.staff_id == staff.member.id)
    ).all()
    assert len(rows) == 1
    assert rows[0].id == row.id
    assert rows[0].stage == "full"
    assert rows[0].second_factor_at == clock.now()
    assert rows[0].expires_at == row.created_at + dt.timedelta(hours=12)

    me = client.get("/v1/staff/me", headers=headers(token))
    assert me.status_code == 200
    assert me.json["email"] == staff.email
    # ...and the login ticket stops working, as a bearer token and for the code step.
    assert client.get("/v1/staff/me", headers=headers(ticket)).status_code == 401
    again = _code_step(client, ticket, code=fresh_code(staff.seed, clock))
    assert again.status_code == 401
    assert [e.details for e in _events(db_session, "staff.login")] == [{"method": "totp"}]


def test_unenrolled_member_gets_an_enrolment_ticket_that_is_not_a_code_ticket(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    staff = make_member(db_session, runtime, enrolled=False)
    r = _password_step(client, staff.email, staff.password)
    assert r.status_code == 200
    assert r.json is not None
    assert r.json["next"] == "enroll"
    assert _code_step(client, r.json["login_token"], code="123456").status_code == 401


def test_every_failure_is_byte_identical(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    alice = make_member(db_session, runtime)
    disabled = make_member(db_session, runtime)
    disabled.member.disabled_at = clock.now()
    db_session.flush()
    assert alice.seed is not None
    failures: dict[str, JsonResponse] = {}

    failures["unknown user"] = _password_step(client, "nobody@lantern.test", alice.password)
    failures["wrong password"] = _password_step(client, alice.email, "not the password at all")
    failures["disabled"] = _password_step(client, disabled.email, disabled.password)

    # (Several members, so that no account reaches its allowance of attempts before the end:
    # a right password counts as an attempt until the code is right too.)
    carol = make_member(db_session, runtime)
    failures["wrong code"] = _code_step(client, login_ticket(client, carol), code="000000")
    used = fresh_code(alice.seed, clock)
    assert _code_step(client, login_ticket(client, alice), code=used).status_code == 200
    failures["replayed code"] = _code_step(client, login_ticket(client, alice), code=used)
    failures["two steps old"] = _code_step(
        client,
        login_ticket(client, alice),
        code=code(alice.seed, clock.now() - dt.timedelta(seconds=60)),
    )
    dave = make_member(db_session, runtime)
    assert dave.seed is not None
    ticket = login_ticket(client, dave)
    clock.advance(minutes=5, seconds=1)
    failures["expired ticket"] = _code_step(client, ticket, code=code(dave.seed, clock.now()))
    failures["unknown ticket"] = _code_step(client, "st_" + "x" * 43, code="123456")
    late = make_member(db_session, runtime)
    assert late.seed is not None
    ticket = login_ticket(client, late)
    late.member.disabled_at = clock.now()
    db_session.flush()
    failures["disabled between the steps"] = _code_step(
        client, ticket, code=code(late.seed, clock.now())
    )

    _fail_account(runtime, db_session, alice.email, 12)  # far beyond the allowance
    assert _retry_after(runtime, db_session, alice.email) >= 5 * 60  # a delay of minutes
    failures["throttled (right password)"] = _password_step(client, alice.email, alice.password)

    reference = failures["unknown user"]
    assert reference.status_code == 401
    body = json.loads(reference.data)
    assert body["type"] == "urn:lantern:problem:login-failed"
    assert "request_id" not in body  # nothing in the body varies per request
    for name, r in failures.items():
        assert r.status_code == 401, name
        assert r.data == reference.data, name
        assert r.mimetype == "application/problem+json", name
        assert r.headers["WWW-Authenticate"] == reference.headers["WWW-Authenticate"], name
    reasons = [e.details["reason"] for e in _events(db_session, "staff.login_failed")]
    assert reasons == [
        "unknown_account",
        "wrong_password",
        "disabled",
        "wrong_totp",
        "wrong_totp",
        "wrong_totp",
        "invalid_ticket",
        "invalid_ticket",
        "disabled",
        "throttled",
    ]


def test_failed_login_is_audited_without_the_email_and_survives_the_refusal(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    alice = make_member(db_session, runtime)
    _password_step(client, "ghost.user@lantern.test", "whatever it is here")
    _password_step(client, alice.email, "whatever it is here")
    unknown, known = _events(db_session, "staff.login_failed")
    assert unknown.actor_kind == "system"
    assert unknown.actor_id is None
    assert unknown.subject_id is None
    assert unknown.details == {"reason": "unknown_account", "step": "password"}
    assert known.subject_id == alice.member.id
    for event in (unknown, known):
        text = json.dumps(
            {c.name: str(getattr(event, c.name)) for c in AuditEvent.__table__.columns}
        )
        assert "ghost" not in text
        assert alice.email not in text


def test_unknown_user_and_wrong_password_both_run_argon2(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = make_member(db_session, runtime)
    calls: list[str | None] = []
    real_verify = runtime.hasher.verify

    def spy(stored_hash: str | None, secret: str) -> bool:
        calls.append(stored_hash)
        return real_verify(stored_hash, secret)

    monkeypatch.setattr(runtime.hasher, "verify", spy)
    assert _password_step(client, "nobody@lantern.test", "some password 1").status_code == 401
    assert calls == [None]  # the dummy hash: as slow as a real one
    calls.clear()
    assert _password_step(client, alice.email, "some password 1").status_code == 401
    assert calls == [alice.member.password_hash]
    calls.clear()
    _fail_account(runtime, db_session, alice.email, 12)
    assert _password_step(client, alice.email, alice.password).status_code == 401
    assert calls == [None]  # throttled attempts cost the same too


def test_throttle_is_keyed_by_lower_cased_email_and_by_address(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    alice = make_member(db_session, runtime, email="alice.w@lantern.test")
    bob = make_member(db_session, runtime)
    _fail_account(runtime, db_session, "ALICE.W@Lantern.test", 4)
    assert _retry_after(runtime, db_session, alice.email) == 2
    assert _password_step(client, alice.email, alice.password).status_code == 401
    # Another account from the same address is unaffected...
    assert _password_step(client, bob.email, bob.password).status_code == 200
    # ...until the address itself has used up its allowance (here: unknown accounts).
    for i in range(CLIENT_ADDRESS.allowance):
        assert (
            _password_step(client, f"nobody{i}@lantern.test", "a wrong password").status_code == 401
        )
    assert count(runtime, db_session, CLIENT_ADDRESS, "staff-login:127.0.0.1") == 20
    # The address's own state, refused openly at the door (429), before any password is hashed.
    refused = _password_step(client, bob.email, bob.password)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # The refused attempt took nothing at bob's account: only the right password before did.
    assert count(runtime, db_session, STAFF_ACCOUNT, account_subject(bob.email)) == 1


def test_failures_are_counted_for_unknown_emails_too(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    for _ in range(3):
        _password_step(client, "Nobody@lantern.test", "a wrong password")
    assert count(runtime, db_session, STAFF_ACCOUNT, account_subject("nobody@lantern.test")) == 3
    # The lock itself says nothing about who has an account: the 4th locks either way.
    _password_step(client, "nobody@lantern.test", "a wrong password")
    assert _retry_after(runtime, db_session, "nobody@lantern.test") == 2


def test_code_step_throttles_the_account(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    alice = make_member(db_session, runtime)
    assert alice.seed is not None
    ticket = login_ticket(client, alice)
    # The right password keeps its slot until the second factor is right too: a stolen
    # password must not reopen the code guessing.
    assert count(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) == 1
    for _ in range(3):
        assert _code_step(client, ticket, code="000000").status_code == 401
    assert count(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) == 4
    assert _retry_after(runtime, db_session, alice.email) == 2
    # While throttled, even the right code is refused (and not counted), in the same words as
    # any other failure.
    throttled = _code_step(client, ticket, code=code(alice.seed, clock.now()))
    assert throttled.status_code == 401
    assert throttled.data == _password_step(client, "nobody@lantern.test", "x").data
    assert count(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) == 4
    # Once the lock has run out, the same ticket and a fresh code go through.
    clock.advance(seconds=2)
    assert _code_step(client, ticket, code=fresh_code(alice.seed, clock)).status_code == 200
    assert counter(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) is None


def test_successful_login_clears_the_account_failures(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    alice = make_member(db_session, runtime)
    _password_step(client, alice.email, "a wrong password")
    assert count(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) == 1
    login(client, alice, clock)
    assert counter(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) is None


def test_after_a_guessing_spree_the_right_password_and_code_still_log_in(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """Someone spent an evening guessing alice's password; each lock has run out.

    Her right password is checked and answered with a ticket; the slot it took stays counted
    (a stolen password must not reopen code guessing), but the lock that slot set must not
    refuse her code: if it outlasts the 5-minute ticket she can never log in again while
    anyone keeps guessing at least once an hour.
    """
    alice = make_member(db_session, runtime)
    assert alice.seed is not None
    _fail_account(runtime, db_session, alice.email, 11)
    clock.advance(seconds=_retry_after(runtime, db_session, alice.email))
    ticket = login_ticket(client, alice)
    clock.advance(seconds=30)  # she reads the code off her phone
    r = _code_step(client, ticket, code=code(alice.seed, clock.now()))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert counter(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email)) is None


def _with_codes(db_session: Session, runtime: Runtime, staff: Staff) -> list[str]:
    return recovery.issue(db_session, runtime.hasher, runtime.clock, staff.member.id)


def test_recovery_code_logs_in_once_then_is_refused(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    alice = make_member(db_session, runtime)
    admin = make_member(db_session, runtime, role="admin")
    codes = _with_codes(db_session, runtime, alice)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    # Forgiving input: upper case, spaces instead of hyphens.
    typed = codes[3].upper().replace("-", " ")
    r = _code_step(client, login_ticket(client, alice), recovery_code=typed)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert recovery.remaining(db_session, alice.member.id) == 9
    used = _events(db_session, "staff.recovery_code_used")
    assert [(e.actor_id, e.details) for e in used] == [(alice.member.id, {"remaining": 9})]
    assert [e.details for e in _events(db_session, "staff.login")] == [{"method": "recovery_code"}]
    notified = db_session.scalars(
        select(StaffNotice.recipient_id).where(
            StaffNotice.kind == recovery.NOTICE_KIND, StaffNotice.urgency == "high"
        )
    ).all()
    assert set(notified) == {alice.member.id, admin.member.id}

    refused = _code_step(client, login_ticket(client, alice), recovery_code=codes[3])
    reference = _password_step(client, "nobody@lantern.test", "x")
    assert refused.status_code == 401
    assert refused.data == reference.data
    assert recovery.remaining(db_session, alice.member.id) == 9


def test_code_step_needs_exactly_one_factor(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    alice = make_member(db_session, runtime)
    assert alice.seed is not None
    codes = recovery.issue(db_session, runtime.hasher, clock, alice.member.id)
    ticket = login_ticket(client, alice)
    reference = _password_step(client, "nobody@lantern.test", "x")
    # Both factors valid, or none at all: refused like any other failure.
    both = {"code": code(alice.seed, clock.now()), "recovery_code": codes[0]}
    for factors in (both, {}):
        r = _code_step(client, ticket, **factors)
        assert r.status_code == 401
        assert r.data == reference.data
    assert recovery.remaining(db_session, alice.member.id) == 10
    # The ticket itself is still good for one proper factor.
    assert _code_step(client, ticket, code=code(alice.seed, clock.now())).status_code == 200
