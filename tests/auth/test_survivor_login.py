"""Survivor PIN login: uniform failures, throttling, growing locks, alerts about guessing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import attempts
from auth.survivors import decoys
from auth.survivors.models import SurvivorDevice
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import random_token
from core.notices import StaffNotice
from core.runtime import Runtime
from tests.auth.attempt_probes import pin_count, pin_retry_after
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    make_staff,
    make_survivor_account,
)
from tests.json_client import JsonClient

LOGIN = "/v1/survivor/login"

_addr = iter(range(1, 1_000_000))


def fresh_addr() -> str:
    """A new client address, so the per-address count stays out of per-account tests."""
    n = next(_addr)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def login(client: JsonClient, handle: str, pin: str, addr: str | None = None) -> Any:
    return client.post(
        LOGIN,
        json={"account_handle": handle, "pin": pin},
        environ_base={"REMOTE_ADDR": addr or fresh_addr()},
    )


@pytest.fixture
def verify_calls(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records each argon2 verify: True when it ran against a real stored hash."""
    calls: list[bool] = []
    original: Callable[[str | None, str], bool] = runtime.hasher.verify

    def spy(stored_hash: str | None, secret: str) -> bool:
        calls.append(stored_hash is not None)
        return original(stored_hash, secret)

    monkeypatch.setattr(runtime.hasher, "verify", spy)
    return calls


def test_pin_login_issues_a_real_device_session(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    r = client.post(
        LOGIN, json={"account_handle": handle, "pin": SURVIVOR_PIN, "device_label": "Recipes"}
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert set(r.json) == {"access_token", "refresh_token", "access_expires_at"}
    assert dt.datetime.fromisoformat(r.json["access_expires_at"]) == clock.now() + dt.timedelta(
        minutes=15
    )
    device = db_session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.survivor_id == survivor.id)
    ).one()
    assert device.decoy is False
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survivor.login")
    ).one()
    assert event.survivor_id == survivor.id
    assert event.subject_id == device.id
    assert event.details == {}


def lock_account(client: JsonClient, handle: str) -> None:
    """Five wrong PINs in a row (from five addresses): the 5th sets the 30 s lock."""
    for _ in range(5):
        assert login(client, handle, "839201").status_code == 401


def test_every_failure_answers_byte_identically_after_the_same_argon2_work(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    verify_calls: list[bool],
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    other, no_duress_handle = make_survivor_account(db_session, runtime)
    no_decoy = decoys.decoy_account(db_session, other.id)
    assert no_decoy is not None
    db_session.delete(no_decoy)  # an account that never had a duress PIN: no decoy account
    db_session.flush()

    unknown = login(client, random_token(), SURVIVOR_PIN)
    unknown_calls = verify_calls[:]
    verify_calls.clear()
    wrong = login(client, handle, "839201")
    wrong_calls = verify_calls[:]
    verify_calls.clear()
    wrong_no_duress = login(client, no_duress_handle, "839201")
    no_duress_calls = verify_calls[:]

    lock_account(client, handle)
    verify_calls.clear()
    locked_right_pin = login(client, handle, SURVIVOR_PIN)
    locked_calls = verify_calls[:]
    verify_calls.clear()

    # Per-address lock: the allowance of failures from one address (unknown handles, so no
    # account is locked), then the right PIN of an unlocked account from there.
    addr = fresh_addr()
    for _ in range(attempts.APP_ADDRESS.allowance):
        login(client, random_token(), "839201", addr=addr)
    verify_calls.clear()
    throttled_right_pin = login(client, no_duress_handle, SURVIVOR_PIN, addr=addr)
    throttled_calls = verify_calls[:]

    answers = [unknown, wrong, wrong_no_duress, locked_right_pin]
    assert {r.status_code for r in answers} == {401}
    assert len({r.data for r in answers}) == 1, [r.data for r in answers]
    assert b"request_id" not in unknown.data
    headers = [{k: v for k, v in r.headers if k != "X-Request-Id"} for r in answers]
    assert all(h == headers[0] for h in headers)
    # Always three argon2 verifies (the PIN, the decoy's, the decoy's decoy's); a dummy hash
    # stands in for what is missing, and for the real PIN while the account is locked.
    assert unknown_calls == [False, False, False]
    assert wrong_calls == [True, True, False]
    assert no_duress_calls == [True, False, False]
    assert locked_calls == [False, True, False]
    # A locked address is the caller's own state: refused openly at the door (429 with
    # Retry-After), before any PIN is hashed, the same for every handle, known or not.
    assert throttled_right_pin.status_code == 429
    assert int(throttled_right_pin.headers["Retry-After"]) > 0
    assert throttled_calls == []
    unknown_there = login(client, random_token(), SURVIVOR_PIN, addr=addr)
    assert (unknown_there.status_code, unknown_there.json["type"]) == (
        throttled_right_pin.status_code,
        throttled_right_pin.json["type"],
    )
    # The address was refused before the account was counted: its record is untouched.
    assert pin_count(runtime, db_session, other.id) == 1


def test_repeated_failures_lock_with_growing_delays(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    for _ in range(4):
        assert login(client, handle, "839201").status_code == 401
    assert pin_count(runtime, db_session, survivor.id) == 4
    assert pin_retry_after(runtime, db_session, survivor.id) == 0
    # The right PIN still works before the lock, and the account starts again from nothing.
    assert login(client, handle, SURVIVOR_PIN).status_code == 200
    assert pin_count(runtime, db_session, survivor.id) == 0

    delays = []
    for _ in range(7):
        login(client, handle, "839201")
        wait = pin_retry_after(runtime, db_session, survivor.id)
        if wait:
            delays.append(wait)
            clock.advance(seconds=wait)  # wait it out, then guess again
    assert delays == [30, 60, 120]  # the 5th, 6th and 7th failures lock, each twice as long

    # While locked, even the right PIN is refused, and that attempt is not counted.
    login(client, handle, "839201")
    failures = pin_count(runtime, db_session, survivor.id)
    assert failures == 8
    assert pin_retry_after(runtime, db_session, survivor.id) == 240
    clock.advance(seconds=239)
    assert login(client, handle, SURVIVOR_PIN).status_code == 401
    assert pin_count(runtime, db_session, survivor.id) == failures
    assert pin_retry_after(runtime, db_session, survivor.id) == 1
    clock.advance(seconds=1)
    assert login(client, handle, SURVIVOR_PIN).status_code == 200
    assert pin_count(runtime, db_session, survivor.id) == 0


def test_advocates_are_told_at_the_fifth_failure_and_every_fifth_after(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    make_staff(db_session, runtime)  # a colleague without this survivor: must not be told
    survivor, handle = make_survivor_account(db_session, runtime, advocate)

    def notices() -> list[StaffNotice]:
        db_session.expire_all()
        return list(
            db_session.scalars(select(StaffNotice).where(StaffNotice.kind == "pin_guessing"))
        )

    def fail_once() -> Any:
        r = login(client, handle, "839201")
        clock.advance(seconds=pin_retry_after(runtime, db_session, survivor.id))
        return r

    answers = [fail_once() for _ in range(4)]
    assert notices() == []
    answers.append(fail_once())
    first = notices()
    assert [(n.recipient_id, n.urgency, n.survivor_id) for n in first] == [
        (advocate.id, "high", survivor.id)
    ]
    assert first[0].details == {"failures": 5}
    answers.extend(fail_once() for _ in range(4))
    assert len(notices()) == 1
    answers.append(fail_once())
    assert sorted(n.details["failures"] for n in notices()) == [5, 10]
    assert {n.recipient_id for n in notices()} == {advocate.id}
    # The person at the phone was told nothing new: the 5th and 10th answers are the 1st.
    assert len({r.data for r in answers}) == 1


def test_failed_logins_are_audited_without_saying_why(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    login(client, handle, "839201")
    login(client, random_token(), "839201")
    events = list(
        db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "survivor.login_failed")
            .order_by(AuditEvent.seq)
        )
    )
    # Against the account and its decoy (whose own access log must list it too), then nobody.
    decoy = decoys.decoy_account(db_session, survivor.id)
    assert decoy is not None
    assert [e.survivor_id for e in events] == [survivor.id, decoy.id, None]
    assert all(e.details == {} for e in events)


def test_pin_is_normalised_so_full_width_digits_log_in(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    full_width = "".join(chr(0xFF10 + int(d)) for d in SURVIVOR_PIN)
    assert login(client, handle, full_width).status_code == 200
    assert login(client, handle, SURVIVOR_DURESS_PIN).status_code == 200


def test_erased_survivor_cannot_log_in(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    survivor.erased_at = clock.now()
    db_session.flush()
    assert login(client, handle, SURVIVOR_PIN).status_code == 401


def test_login_input_is_bounded(client: JsonClient, db_session: Session, runtime: Runtime) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    assert login(client, handle, "9" * 129).status_code == 422
    assert login(client, "h" * 65, SURVIVOR_PIN).status_code == 422
    r = client.post(LOGIN, json={"account_handle": handle, "pin": SURVIVOR_PIN, "x": 1})
    assert r.status_code == 422
