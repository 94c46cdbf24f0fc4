"""Guesses in parallel, on real connections: a burst checks no more than the allowance.

Twelve requests are in flight at once, each in its own thread, transaction and connection
(``committed_db``), eleven with a wrong secret and the last with the right one. A gate holds
every request at the first point where it has decided whether its guess may be checked (its
first argon2 verify, or the TOTP check or the refusal for the code step) until all twelve are
there, so the requests overlap for certain: checking a lock, then verifying, then counting the
failure lets every request of the burst through (the right one included); taking a slot
before verifying lets through no more than the allowance. The right secret is sent once the
eleven others have reached the gate, so it arrives after the allowance is used up and must be
refused like any other attempt; after the lock has run out (the shared frozen clock moves) it
is accepted.

On SQLite every transaction holds the single write lock from its first statement, so the
requests cannot overlap (the gate only counts arrivals there, or it would wait on a request
that waits on it); the same assertions hold.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from auth.staff import totp
from auth.survivors.models import Survivor
from core import audit
from core.crypto import SecretHasher
from tests.auth.deployment import BURST, Deployment
from tests.auth.factories_staff import code, make_member
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_header,
    make_device,
    make_survivor_account,
)
from tests.json_client import JsonClient, JsonResponse

ADDRESS = "198.51.100.7"  # one machine sends the whole burst
JOIN_SECONDS = 60.0
# The allowances the bursts must respect (``auth.attempts``): five PINs in a row for a survivor
# account, four attempts for a staff account (the right password of the code step's ticket is
# one of them).
PIN_ALLOWANCE = 5
PIN_FIRST_LOCK = 30
STAFF_ALLOWANCE = 4
STAFF_FIRST_LOCK = 2


def burst(
    d: Deployment,
    send: Callable[[JsonClient, str], JsonResponse],
    wrong: list[str],
    right: str,
    *,
    right_last: bool = True,
) -> tuple[list[JsonResponse], JsonResponse]:
    """``len(wrong)`` requests at once, then the right one once they are all at the gate
    (or, with ``right_last=False``, all twelve at once in no particular order)."""
    assert len(wrong) == BURST - 1
    answers: dict[str, JsonResponse] = {}
    lock = threading.Lock()

    def run(secret: str) -> None:
        r = send(JsonClient(d.app), secret)
        with lock:
            answers[secret] = r

    d.gate.arm()
    threads = [threading.Thread(target=run, args=(secret,)) for secret in wrong]
    last = threading.Thread(target=run, args=(right,))
    if not right_last:
        threads.insert(len(threads) // 2, last)
    for t in threads:
        t.start()
    if right_last:
        d.gate.until_arrived(BURST - 1)
        last.start()
    for t in threads if not right_last else [*threads, last]:
        t.join(JOIN_SECONDS)
        assert not t.is_alive(), "a request of the burst never finished"
    d.gate.armed = False
    assert len(answers) == BURST
    return [answers[s] for s in wrong], answers[right]


def assert_refused_alike(answers: list[JsonResponse], status: int) -> None:
    assert [r.status_code for r in answers] == [status] * len(answers)
    assert len({r.data for r in answers}) == 1, {r.data for r in answers}


def refused_until_the_lock_ends(
    d: Deployment,
    send: Callable[[JsonClient, str], JsonResponse],
    secret: str,
    refused: JsonResponse,
    lock_seconds: int,
) -> JsonResponse:
    """The right secret, sent again while the lock lasts, is refused alike; the answer once
    the lock has run out (the shared frozen clock moves) is returned."""
    client = JsonClient(d.app)
    d.clock.advance(seconds=lock_seconds - 1)
    locked = send(client, secret)
    assert locked.status_code == refused.status_code
    assert locked.data == refused.data
    d.clock.advance(seconds=1)
    return send(client, secret)


def wrong_pins() -> list[str]:
    return [f"5509{i:02d}" for i in range(11, 11 + BURST - 1)]


# --- survivor PIN at login ----------------------------------------------------------------------


def _login_target(d: Deployment) -> tuple[uuid.UUID, Callable[[JsonClient, str], JsonResponse]]:
    """A survivor account (committed), and how the burst logs in to it from one address."""
    with d.session() as s:
        survivor, handle = make_survivor_account(s, d.runtime)
        s.commit()

    def send(client: JsonClient, pin: str) -> JsonResponse:
        return client.post(
            "/v1/survivor/login",
            json={"account_handle": handle, "pin": pin},
            environ_base={"REMOTE_ADDR": ADDRESS},
        )

    return survivor.id, send


def _count(d: Deployment, owner_id: uuid.UUID) -> int:
    """The survivor's PIN count, as committed."""
    # Imported here, so that this module also runs against the code from before attempt slots
    # (where the bursts fail on their first assertions).
    from tests.auth.attempt_probes import pin_count

    with d.session() as s:
        return pin_count(d.runtime, s, owner_id)


def _counted(d: Deployment, owner_id: uuid.UUID, expected: int) -> None:
    assert _count(d, owner_id) == expected


def test_a_burst_of_pin_guesses_at_login_checks_no_more_than_the_allowance(
    deployment: Deployment,
) -> None:
    d = deployment
    survivor_id, send = _login_target(d)
    wrong, right = burst(d, send, wrong_pins(), SURVIVOR_PIN)
    assert d.gate.arrived == BURST
    assert right.status_code == 401, "the right PIN arrived after the allowance was used up"
    assert d.hasher.checked_against(SURVIVOR_PIN) <= PIN_ALLOWANCE
    assert_refused_alike([*wrong, right], 401)
    _counted(d, survivor_id, PIN_ALLOWANCE)

    after = refused_until_the_lock_ends(d, send, SURVIVOR_PIN, right, PIN_FIRST_LOCK)
    assert after.status_code == 200
    _counted(d, survivor_id, 0)


def test_a_burst_with_the_right_pin_anywhere_in_it_checks_no_more_than_the_allowance(
    backend: str, deployment: Deployment
) -> None:
    """All twelve at once, the right PIN in the middle: it is let in only if it got one of
    the five slots, and no more than five guesses are checked.

    On SQLite the requests run one after another, so when the right PIN comes early its
    success starts a new run of five (as it would for any later guesses): at most two runs.
    """
    d = deployment
    survivor_id, send = _login_target(d)
    wrong, right = burst(d, send, wrong_pins(), SURVIVOR_PIN, right_last=False)
    assert d.gate.arrived == BURST
    right_was_checked = any(
        secret == SURVIVOR_PIN and h is not None and SecretHasher.verify(d.hasher, h, secret)
        for h, secret in d.gate.verifies
    )
    assert_refused_alike(wrong, 401)
    checked = d.hasher.checked_against(SURVIVOR_PIN)
    if not right_was_checked:
        assert right.status_code == 401
        assert right.data == wrong[0].data
        assert checked <= PIN_ALLOWANCE
        _counted(d, survivor_id, PIN_ALLOWANCE)
        return
    assert right.status_code == 200
    runs = 1 if backend == "postgresql" else 2
    assert checked <= runs * PIN_ALLOWANCE
    assert _count(d, survivor_id) <= PIN_ALLOWANCE


# --- survivor PIN in a session ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "decoy"),
    [("change-pin", False), ("change-pin", True), ("set-duress-pin", False)],
    ids=["change-pin", "change-pin-in-decoy", "set-duress-pin"],
)
def test_a_burst_of_pin_guesses_in_a_session_checks_no_more_than_the_allowance(
    deployment: Deployment, route: str, decoy: bool
) -> None:
    d = deployment
    with d.session() as s:
        survivor, handle = make_survivor_account(s, d.runtime)
        _, token = make_device(s, d.runtime, survivor.id, decoy=decoy)
        s.commit()
        survivor_id = survivor.id
    # A decoy session's "current PIN" is the duress PIN it was opened with.
    right_pin = SURVIVOR_DURESS_PIN if decoy else SURVIVOR_PIN

    def send(client: JsonClient, pin: str) -> JsonResponse:
        if route == "change-pin":
            return client.post(
                "/v1/survivor/pin",
                json={"current_pin": pin, "new_pin": "602718"},
                headers=auth_header(token),
            )
        return client.put(
            "/v1/survivor/duress-pin",
            json={"current_pin": pin, "duress_pin": "913572"},
            headers=auth_header(token),
        )

    wrong, right = burst(d, send, wrong_pins(), right_pin)
    assert d.gate.arrived == BURST
    assert right.status_code == 403, "the right PIN arrived after the allowance was used up"
    assert d.hasher.checked_against(right_pin) <= PIN_ALLOWANCE
    assert_refused_alike([*wrong, right], 403)
    _counted(d, survivor_id, PIN_ALLOWANCE)
    with d.session() as s:
        assert d.runtime.hasher.verify(s.get_one(Survivor, survivor_id).pin_hash, SURVIVOR_PIN)

    # The lock is the login's too, and it runs out.
    login = {"account_handle": handle, "pin": SURVIVOR_PIN}
    assert JsonClient(d.app).post("/v1/survivor/login", json=login).status_code == 401
    after = refused_until_the_lock_ends(d, send, right_pin, right, PIN_FIRST_LOCK)
    assert after.status_code == 204


# --- staff password and code ---------------------------------------------------------------------


def test_a_burst_of_password_guesses_checks_no_more_than_the_allowance(
    deployment: Deployment,
) -> None:
    d = deployment
    with d.session() as s:
        alice = make_member(s, d.runtime)
        s.commit()
    email, password = alice.email, alice.password

    def send(client: JsonClient, guess: str) -> JsonResponse:
        return client.post(
            "/v1/staff/login",
            json={"email": email, "password": guess},
            environ_base={"REMOTE_ADDR": ADDRESS},
        )

    guesses = [f"violet harbour kettle quantum {i}" for i in range(10, 10 + BURST - 1)]
    wrong, right = burst(d, send, guesses, password)
    assert d.gate.arrived == BURST
    assert right.status_code == 401, "the right password arrived after the allowance was used"
    assert d.hasher.checked_against(password) <= STAFF_ALLOWANCE
    assert_refused_alike([*wrong, right], 401)

    after = refused_until_the_lock_ends(d, send, password, right, STAFF_FIRST_LOCK)
    assert after.status_code == 200


def test_a_burst_of_code_guesses_checks_no_more_than_the_allowance(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployment
    with d.session() as s:
        alice = make_member(s, d.runtime)
        s.commit()
    assert alice.seed is not None
    seed = alice.seed
    client = JsonClient(d.app)
    r = client.post(
        "/v1/staff/login",
        json={"email": alice.email, "password": alice.password},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert r.status_code == 200
    ticket = r.json["login_token"]

    # The code step's decision points: the TOTP check, or the refusal's audit event.
    checked: list[str] = []
    real_verify_code = totp.verify_code
    real_record = audit.record

    def gated_verify_code(*args: Any, **kwargs: Any) -> bool:
        if d.gate.armed:
            checked.append(str(args[3]))
        d.gate.reach()
        return real_verify_code(*args, **kwargs)

    def gated_record(*args: Any, **kwargs: Any) -> Any:
        d.gate.reach()
        return real_record(*args, **kwargs)

    monkeypatch.setattr(totp, "verify_code", gated_verify_code)
    monkeypatch.setattr(audit, "record", gated_record)

    def send(client: JsonClient, guess: str) -> JsonResponse:
        return client.post(
            "/v1/staff/login/code",
            json={"login_token": ticket, "code": guess},
            environ_base={"REMOTE_ADDR": ADDRESS},
        )

    now = d.clock.now()
    accepted = {code(seed, now + dt.timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    right_code = code(seed, now)
    guesses = [g for g in (f"{n:06d}" for n in range(100_000, 100_100)) if g not in accepted]
    wrong, right = burst(d, send, guesses[: BURST - 1], right_code)
    assert d.gate.arrived == BURST
    assert right.status_code == 401, "the right code arrived after the allowance was used up"
    # The right password holds one of the account's slots until the code is right too.
    assert len(checked) <= STAFF_ALLOWANCE - 1, checked
    assert right_code not in checked
    assert_refused_alike([*wrong, right], 401)

    # The right code was never checked, so it is not spent: it goes through once the lock
    # ends (two seconds, inside the same 30-second step).
    after = refused_until_the_lock_ends(d, send, right_code, right, STAFF_FIRST_LOCK)
    assert after.status_code == 200, after.get_data(as_text=True)


def test_the_gate_makes_requests_overlap_on_postgresql(
    backend: str, deployment: Deployment
) -> None:
    """The gate itself: on PostgreSQL no request passes it before the whole burst is there."""
    d = deployment
    passed: list[int] = []

    def send(client: JsonClient, secret: str) -> JsonResponse:
        d.hasher.verify(None, secret)
        passed.append(d.gate.arrived)
        return client.get("/healthz")

    burst(d, send, [str(i) for i in range(BURST - 1)], "last")
    if backend == "postgresql":
        assert passed == [BURST] * BURST
    else:
        assert sorted(passed)[0] < BURST
