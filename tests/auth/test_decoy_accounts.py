"""Decoy accounts (``auth.survivors.decoys``): a duress session must read back as a real one would.

Everything here goes through HTTP, as the phone does: log in with the duress PIN, act, then
look again, in a later session too. Whoever forced the duress PIN must never see anything a
real account would not show, and nothing real may change (but the advocate is told).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import attempts
from auth.survivors import decoys
from auth.survivors.duress import DURESS_ALERT
from auth.survivors.models import Survivor, SurvivorDevice
from core.crypto import random_token, token_digest
from core.jobs import Job
from core.notices import StaffNotice
from core.runtime import Runtime
from tests.auth.attempt_probes import count, pin_retry_after, retry_after
from tests.auth.test_survivor_duress import shape
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_header,
    make_staff,
    make_survivor_account,
)
from tests.json_client import JsonClient, JsonResponse

LOGIN = "/v1/survivor/login"
DEVICES = "/v1/survivor/devices"
PIN = "/v1/survivor/pin"
DURESS_PIN = "/v1/survivor/duress-pin"
ACCESS_LOG = "/v1/survivor/access-log"
PLAN = "/v1/survivor/safety-plan"
NEW_PIN = "615243"
WRONG_PIN = "550917"

_addr = iter(range(1, 1_000_000))


def _login(client: JsonClient, handle: str, pin: str, label: str = "Weather") -> Any:
    n = next(_addr)
    return client.post(
        LOGIN,
        json={"account_handle": handle, "pin": pin, "device_label": label},
        environ_base={"REMOTE_ADDR": f"10.77.{n // 250}.{n % 250}"},
    )


def session_of(
    client: JsonClient, handle: str, pin: str, label: str = "Weather"
) -> dict[str, str]:
    """Log in over HTTP; the access token's header."""
    r = _login(client, handle, pin, label)
    assert r.status_code == 200, r.get_data(as_text=True)
    return auth_header(body(r)["access_token"])


def body(r: JsonResponse) -> Any:
    """The JSON body (an answer without one fails the test here)."""
    data = r.get_json()
    assert data is not None, r.status_code
    return data


def device_of(db_session: Session, headers: dict[str, str]) -> SurvivorDevice:
    token = headers["Authorization"].removeprefix("Bearer ")
    return db_session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.access_digest == token_digest(token))
    ).one()


@pytest.fixture
def family(db_session: Session, runtime: Runtime) -> tuple[Survivor, str, Any]:
    """A survivor with an advocate (who is told of alarms), her handle, and the advocate."""
    advocate, _ = make_staff(db_session, runtime)
    make_staff(db_session, runtime)  # a colleague without this survivor: never told
    survivor, handle = make_survivor_account(db_session, runtime, advocate)
    return survivor, handle, advocate


def _notices(db_session: Session, kind: str) -> list[StaffNotice]:
    db_session.expire_all()
    return list(db_session.scalars(select(StaffNotice).where(StaffNotice.kind == kind)))


# --- a PIN changed in a decoy -------------------------------------------------------------------


def test_a_pin_changed_in_a_decoy_opens_the_decoy_from_then_on(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    survivor, handle, advocate = family
    real_pin_hash = survivor.pin_hash
    real = session_of(client, handle, SURVIVOR_PIN, "News")
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    devices_before = body(client.get(DEVICES, headers=decoy))
    plan_before = client.get(PLAN, headers=decoy)
    assert plan_before.status_code == 200

    r = client.post(
        PIN, json={"current_pin": SURVIVOR_DURESS_PIN, "new_pin": NEW_PIN}, headers=decoy
    )
    assert r.status_code == 204
    assert r.data == b""

    # The new PIN opens the same decoy again: its devices and its plan, as left.
    again = session_of(client, handle, NEW_PIN, "Weather 2")
    opened = device_of(db_session, again)
    decoy_account = decoys.decoy_account(db_session, survivor.id)
    assert decoy_account is not None
    assert (opened.survivor_id, opened.decoy) == (decoy_account.id, True)
    devices_after = body(client.get(DEVICES, headers=again))
    assert sorted(d["label"] for d in devices_after) == ["Weather", "Weather 2"]
    assert {d["id"] for d in devices_before} < {d["id"] for d in devices_after}
    assert {shape(d)["created_at"] for d in devices_after + devices_before} == {
        shape(devices_before[0])["created_at"]
    }
    assert {frozenset(d) for d in devices_after} == {frozenset(devices_before[0])}
    plan_after = client.get(PLAN, headers=again)
    assert plan_after.status_code == 200
    assert body(plan_after) == body(plan_before)
    # The session the change was made in goes on, as it would in a real account.
    assert client.get(DEVICES, headers=decoy).status_code == 200

    # The old duress PIN opens nothing any more; the real PIN is untouched, opens the real
    # account, and its sessions were not touched.
    assert _login(client, handle, SURVIVOR_DURESS_PIN).status_code == 401
    db_session.expire_all()
    assert db_session.get_one(Survivor, survivor.id).pin_hash == real_pin_hash
    assert client.get(DEVICES, headers=real).status_code == 200
    real_again = session_of(client, handle, SURVIVOR_PIN)
    assert (
        device_of(db_session, real_again).survivor_id,
        device_of(db_session, real_again).decoy,
    ) == (
        survivor.id,
        False,
    )
    assert sorted(d["label"] for d in body(client.get(DEVICES, headers=real_again))) == [
        "News",
        "Weather",
    ]

    # Her advocate is told, urgently: her own duress PIN no longer works.
    told = _notices(db_session, "duress_pin_changed_in_decoy")
    assert [(n.recipient_id, n.urgency, n.survivor_id) for n in told] == [
        (advocate.id, "urgent", survivor.id)
    ]
    # Each login into the decoy raised the alarm about the real owner.
    payloads = db_session.scalars(select(Job.payload).where(Job.kind == DURESS_ALERT)).all()
    assert len(payloads) == 2
    assert {p["survivor_id"] for p in payloads} == {str(survivor.id)}


def test_a_duress_pin_set_in_a_decoy_opens_a_decoy_of_the_decoy(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    survivor, handle, _ = family
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    r = client.put(
        DURESS_PIN, json={"current_pin": SURVIVOR_DURESS_PIN, "duress_pin": "736251"}, headers=decoy
    )
    assert r.status_code == 204
    # As in a real account, the new PIN must now differ from that duress PIN.
    clash = client.post(
        PIN, json={"current_pin": SURVIVOR_DURESS_PIN, "new_pin": "736251"}, headers=decoy
    )
    assert clash.status_code == 422
    assert "new_pin" in body(clash)["errors"]

    inner = session_of(client, handle, "736251", "Inner")
    level_one = decoys.decoy_account(db_session, survivor.id)
    assert level_one is not None
    level_two = decoys.decoy_account(db_session, level_one.id)
    assert level_two is not None
    device = device_of(db_session, inner)
    assert (device.survivor_id, device.decoy) == (level_two.id, True)
    assert decoys.depth(db_session, level_two) == 2
    assert decoys.owner_of(db_session, level_two).id == survivor.id
    # It is an account of its own: only its own device, and the alarm is about the owner.
    assert [d["label"] for d in body(client.get(DEVICES, headers=inner))] == ["Inner"]
    alerts = db_session.scalars(select(Job.payload).where(Job.kind == DURESS_ALERT)).all()
    assert [p["survivor_id"] for p in alerts] == [str(survivor.id)] * 2
    # Each PIN still opens its own account.
    outer = device_of(db_session, session_of(client, handle, SURVIVOR_DURESS_PIN))
    assert outer.survivor_id == level_one.id
    assert (
        device_of(db_session, session_of(client, handle, SURVIVOR_PIN)).survivor_id == survivor.id
    )
    # And the inner decoy behaves like an account too: its PIN can be changed.
    r = client.post(PIN, json={"current_pin": "736251", "new_pin": "804613"}, headers=inner)
    assert r.status_code == 204
    assert device_of(db_session, session_of(client, handle, "804613")).survivor_id == level_two.id


# --- devices and quick exit ---------------------------------------------------------------------


def test_devices_listed_and_ended_in_a_decoy_are_the_decoys_own(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    _, handle, _ = family
    real = session_of(client, handle, SURVIVOR_PIN, "Kitchen tablet")
    first = session_of(client, handle, SURVIVOR_DURESS_PIN, "Weather")
    second = session_of(client, handle, SURVIVOR_DURESS_PIN, "Recipes")
    real_device = device_of(db_session, real)

    listed = body(client.get(DEVICES, headers=second))
    assert sorted((d["label"], d["current"]) for d in listed) == [
        ("Recipes", True),
        ("Weather", False),
    ]
    # The shape is the real account's shape.
    real_listed = body(client.get(DEVICES, headers=real))

    def unlabelled(d: dict[str, Any]) -> Any:
        return shape({k: v for k, v in d.items() if k != "label"})

    assert unlabelled(real_listed[0]) == unlabelled(listed[0])
    # The real account never lists the decoy's devices.
    assert [d["label"] for d in real_listed] == ["Kitchen tablet"]

    # The decoy ends one of its own devices: gone from its list, its tokens dead.
    first_id = device_of(db_session, first).id
    assert client.delete(f"{DEVICES}/{first_id}", headers=second).status_code == 204
    assert client.get(DEVICES, headers=first).status_code == 401
    assert [d["label"] for d in body(client.get(DEVICES, headers=second))] == ["Recipes"]
    assert client.delete(f"{DEVICES}/{first_id}", headers=second).status_code == 404
    # Neither side can reach the other's devices.
    assert client.delete(f"{DEVICES}/{real_device.id}", headers=second).status_code == 404
    second_id = device_of(db_session, second).id
    assert client.delete(f"{DEVICES}/{second_id}", headers=real).status_code == 404
    db_session.refresh(real_device)
    assert real_device.revoked_at is None
    assert client.get(DEVICES, headers=real).status_code == 200


def test_quick_exit_from_a_decoy_ends_the_real_sessions_too(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    survivor, handle, _ = family
    real = [session_of(client, handle, SURVIVOR_PIN, f"Phone {i}") for i in range(2)]
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    inner_pin = "736251"
    assert (
        client.put(
            DURESS_PIN,
            json={"current_pin": SURVIVOR_DURESS_PIN, "duress_pin": inner_pin},
            headers=decoy,
        ).status_code
        == 204
    )
    inner = session_of(client, handle, inner_pin)
    bystander, bystander_handle = make_survivor_account(db_session, runtime)
    other = session_of(client, bystander_handle, SURVIVOR_DURESS_PIN)

    assert client.post("/v1/survivor/quick-exit", headers=inner).status_code == 204
    for headers in (*real, decoy, inner):
        assert client.get(DEVICES, headers=headers).status_code == 401
    family_ids = [a.id for a in decoys.family(db_session, survivor)]
    assert len(family_ids) == 3
    db_session.expire_all()
    devices = db_session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.survivor_id.in_(family_ids))
    ).all()
    assert len(devices) == 4
    assert {d.revoked_reason for d in devices} == {"quick_exit"}
    # Another survivor's decoy is not touched.
    assert client.get(DEVICES, headers=other).status_code == 200
    assert bystander.id not in family_ids


# --- the access log -----------------------------------------------------------------------------


def test_the_decoys_access_log_shows_nothing_of_the_real_account(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, adv_token = make_staff(db_session, runtime)
    survivor, handle = make_survivor_account(db_session, runtime, advocate)
    real = session_of(client, handle, SURVIVOR_PIN)
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    # The advocate opens the real record: the real log shows it, the decoy's does not.
    r = client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(adv_token))
    assert r.status_code == 200
    db_session.commit()  # audit events are written as their transaction commits
    real_page = client.get(ACCESS_LOG, headers=real)
    decoy_page = client.get(ACCESS_LOG, headers=decoy)
    assert real_page.status_code == decoy_page.status_code == 200
    assert set(body(real_page)) == set(body(decoy_page)) == {"items", "next_cursor"}
    assert [i["action"] for i in body(real_page)["items"]] == ["survivor.read"]
    assert body(decoy_page) == {"items": [], "next_cursor": None}
    assert b"duress" not in decoy_page.data + real_page.data
    assert b"decoy" not in decoy_page.data + real_page.data
    # Staff can never reach the decoy account: it is no survivor on anyone's caseload.
    decoy_id = device_of(db_session, decoy).survivor_id
    assert client.get(
        f"/v1/staff/survivors/{decoy_id}", headers=auth_header(adv_token)
    ).status_code in (
        403,
        404,
    )


def test_failed_logins_show_in_the_decoys_access_log_as_they_would_in_a_real_one(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """Whoever holds the phone types a wrong PIN, then the (forced) duress PIN.

    A real account lists the failed login (a system event) in its access log; the decoy's log
    must list it too, or the first look at it shows the account is not the one logged in to.
    """
    _, handle = make_survivor_account(db_session, runtime)
    _, twin_handle = make_survivor_account(db_session, runtime)
    for h in (handle, twin_handle):
        assert _login(client, h, WRONG_PIN).status_code == 401
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    real = session_of(client, twin_handle, SURVIVOR_PIN)
    db_session.commit()
    real_items = body(client.get(ACCESS_LOG, headers=real))["items"]
    decoy_items = body(client.get(ACCESS_LOG, headers=decoy))["items"]
    assert [i["action"] for i in real_items] == ["survivor.login_failed"]
    assert [i["action"] for i in decoy_items] == [i["action"] for i in real_items]
    assert shape(decoy_items) == shape(real_items)


# --- guessing the real PIN from a decoy ---------------------------------------------------------


def test_a_decoy_login_does_not_reset_the_guesses_at_the_real_pin(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    """The duress PIN proves only the duress PIN. It clears the lock the phone can see, as
    the real PIN would (a decoy must lock like a real account), but not the backstop count of
    guesses at the real PIN: 4 guesses + 1 duress login, repeated, must not guess forever."""
    survivor, handle, advocate = family
    backstop = attempts.SURVIVOR_PIN_BACKSTOP
    guesses = 0
    while _login(client, handle, SURVIVOR_DURESS_PIN).status_code == 200:
        assert guesses < backstop.allowance + 4, "duress logins reset the guessing"
        for _ in range(4):
            assert _login(client, handle, WRONG_PIN).status_code == 401
            guesses += 1
    # The backstop locked the account at its allowance (the rest of that round was refused
    # unseen), for hours, right PIN included.
    assert backstop.allowance <= guesses < backstop.allowance + 4
    wait = retry_after(runtime, db_session, backstop, f"survivor:{survivor.id}")
    assert wait >= backstop.first_lock.total_seconds() - 1
    assert _login(client, handle, SURVIVOR_PIN).status_code == 401
    # Her advocate heard of it at every fifth wrong PIN, duress logins or not.
    told = _notices(db_session, "pin_guessing")
    assert len(told) >= backstop.allowance // 5 - 1
    assert {n.recipient_id for n in told} == {advocate.id}


def test_a_real_login_clears_the_backstop(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    survivor, handle, _ = family
    for _ in range(3):
        assert _login(client, handle, WRONG_PIN).status_code == 401
    assert _login(client, handle, SURVIVOR_DURESS_PIN).status_code == 200
    subject = f"survivor:{survivor.id}"
    assert count(runtime, db_session, attempts.SURVIVOR_PIN_BACKSTOP, subject) == 3
    assert count(runtime, db_session, attempts.SURVIVOR_PIN, subject) == 0  # cleared
    assert _login(client, handle, SURVIVOR_PIN).status_code == 200
    assert count(runtime, db_session, attempts.SURVIVOR_PIN_BACKSTOP, subject) == 0


def test_a_pin_check_in_a_decoy_session_does_not_reset_the_guesses_at_the_real_pin(
    client: JsonClient, db_session: Session, runtime: Runtime, family: tuple[Survivor, str, Any]
) -> None:
    survivor, handle, _ = family
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    for _ in range(4):
        assert _login(client, handle, WRONG_PIN).status_code == 401
    subject = f"survivor:{survivor.id}"
    r = client.put(
        DURESS_PIN, json={"current_pin": SURVIVOR_DURESS_PIN, "duress_pin": "736251"}, headers=decoy
    )
    assert r.status_code == 204
    assert count(runtime, db_session, attempts.SURVIVOR_PIN_BACKSTOP, subject) == 4


@pytest.mark.parametrize("route", ["change-pin", "set-duress-pin"])
def test_a_decoy_cannot_be_used_to_test_guesses_at_the_real_pin(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    family: tuple[Survivor, str, Any],
    route: str,
) -> None:
    """From a decoy, set a PIN to a guess, then log in with the guess.

    If a guess that happens to be the real PIN opened the real account (and any other guess
    the decoy), each round would test one guess at the real PIN without any lock (both steps
    succeed, so nothing is counted): an unlimited oracle. The PIN set in the decoy must open
    the decoy whatever it is, as it would in a real account.
    """
    survivor, handle, _ = family
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN, "Weather")
    decoy_account = device_of(db_session, decoy).survivor_id
    guess = SURVIVOR_PIN  # the abuser's guess happens to be right
    if route == "change-pin":
        r = client.post(
            PIN, json={"current_pin": SURVIVOR_DURESS_PIN, "new_pin": guess}, headers=decoy
        )
    else:
        r = client.put(
            DURESS_PIN,
            json={"current_pin": SURVIVOR_DURESS_PIN, "duress_pin": guess},
            headers=decoy,
        )
    assert r.status_code == 204
    opened = device_of(db_session, session_of(client, handle, guess, "Check"))
    assert opened.decoy is True
    assert opened.survivor_id != survivor.id
    if route == "change-pin":
        assert opened.survivor_id == decoy_account


# --- the same work whatever happens -------------------------------------------------------------


@pytest.fixture
def verify_counts(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many argon2 verifies each request made (call ``next_request`` between requests)."""
    counts = [0]
    original: Callable[[str | None, str], bool] = runtime.hasher.verify

    def spy(stored_hash: str | None, secret: str) -> bool:
        counts[-1] += 1
        return original(stored_hash, secret)

    monkeypatch.setattr(runtime.hasher, "verify", spy)
    return counts


def test_every_login_does_exactly_three_argon2_verifies(
    client: JsonClient, db_session: Session, runtime: Runtime, verify_counts: list[int]
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    plain, plain_handle = make_survivor_account(db_session, runtime)
    plain_decoy = decoys.decoy_account(db_session, plain.id)
    assert plain_decoy is not None
    db_session.delete(plain_decoy)  # never had a duress PIN
    nested, nested_handle = make_survivor_account(db_session, runtime)
    nested_decoy = decoys.decoy_account(db_session, nested.id)
    assert nested_decoy is not None
    inner = decoys.ensure_decoy(db_session, runtime.clock, nested_decoy)
    inner.pin_hash = runtime.hasher.hash("736251")
    locked, locked_handle = make_survivor_account(db_session, runtime)
    db_session.flush()
    for _ in range(5):
        assert _login(client, locked_handle, WRONG_PIN).status_code == 401
    assert pin_retry_after(runtime, db_session, locked.id) > 0

    cases = {
        "unknown handle": (random_token(), SURVIVOR_PIN, 401),
        "wrong PIN": (handle, WRONG_PIN, 401),
        "wrong PIN, no duress PIN": (plain_handle, WRONG_PIN, 401),
        "locked, right PIN": (locked_handle, SURVIVOR_PIN, 401),
        "locked, duress PIN": (locked_handle, SURVIVOR_DURESS_PIN, 401),
        "real login": (handle, SURVIVOR_PIN, 200),
        "real login, no duress PIN": (plain_handle, SURVIVOR_PIN, 200),
        "decoy login": (handle, SURVIVOR_DURESS_PIN, 200),
        "decoy of a decoy": (nested_handle, "736251", 200),
    }
    made: dict[str, int] = {}
    for name, (h, pin, status) in cases.items():
        verify_counts[-1] = 0
        assert _login(client, h, pin).status_code == status, name
        made[name] = verify_counts[-1]
    assert made == dict.fromkeys(cases, 3)


def test_in_session_pin_checks_do_the_same_work_in_real_and_decoy_sessions(
    client: JsonClient, db_session: Session, runtime: Runtime, verify_counts: list[int]
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    real = session_of(client, handle, SURVIVOR_PIN)
    decoy = session_of(client, handle, SURVIVOR_DURESS_PIN)
    # A wrong current PIN costs one verify; a change costs three (the current PIN, that the
    # new one is not the duress PIN, and, told only to staff, whether a decoy's new PIN is the
    # real one), whether or not the account has a duress PIN (the decoy has none).
    cases = [
        (real, WRONG_PIN, NEW_PIN, 403, 1),
        (decoy, WRONG_PIN, NEW_PIN, 403, 1),
        (real, SURVIVOR_PIN, NEW_PIN, 204, 3),
        (decoy, SURVIVOR_DURESS_PIN, "804613", 204, 3),
    ]
    for headers, current, new, status, verifies in cases:
        verify_counts[-1] = 0
        body = {"current_pin": current, "new_pin": new}
        assert client.post(PIN, json=body, headers=headers).status_code == status
        assert verify_counts[-1] == verifies, (current, new)
