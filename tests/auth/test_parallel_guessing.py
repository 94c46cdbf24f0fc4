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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from api.app import create_app
from auth import staff_login, totp
from auth.models import Survivor
from core import audit
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.runtime import Runtime, build_runtime
from tests.auth.factories_staff import code, make_member
from tests.conftest import make_settings
from tests.factories import SURVIVOR_PIN, auth_header, make_device, make_survivor_account

BURST = 12
ADDRESS = "198.51.100.7"  # one machine sends the whole burst
JOIN_SECONDS = 60.0
# The allowances the bursts must respect (``auth.attempts``): five PINs in a row for a survivor
# account, four attempts for a staff account (the right password of the code step's ticket is
# one of them).
PIN_ALLOWANCE = 5
PIN_FIRST_LOCK = 30
STAFF_ALLOWANCE = 4
STAFF_FIRST_LOCK = 2


@dataclass
class Gate:
    """Holds each request at its first decision point until the whole burst is there."""

    parties: int
    wait: bool
    armed: bool = False
    arrived: int = 0
    verifies: list[tuple[str | None, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)
    _barrier: threading.Barrier | None = None

    def arm(self) -> None:
        self._barrier = threading.Barrier(self.parties, timeout=30) if self.wait else None
        self.armed = True

    def reach(self) -> None:
        if not self.armed or getattr(self._local, "passed", False):
            return
        self._local.passed = True
        with self._lock:
            self.arrived += 1
        if self._barrier is not None:
            self._barrier.wait()

    def until_arrived(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.arrived < n:
            assert time.monotonic() < deadline, f"only {self.arrived} of {n} requests arrived"
            time.sleep(0.005)


class GatedHasher(SecretHasher):
    """The fast test hasher, recording each verify and passing the gate first."""

    def __init__(self, gate: Gate) -> None:
        super().__init__(time_cost=1, memory_kib=8, parallelism=1)
        self.gate = gate

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        if self.gate.armed:
            with self.gate._lock:
                self.gate.verifies.append((stored_hash, secret))
        self.gate.reach()
        return super().verify(stored_hash, secret)

    def checked_against(self, right_secret: str) -> int:
        """How many verifies were made against the hash the right secret opens."""
        plain = SecretHasher.verify
        targets = {
            h for h, _ in self.gate.verifies if h is not None and plain(self, h, right_secret)
        }
        return sum(1 for h, _ in self.gate.verifies if h in targets)


@dataclass
class Deployment:
    runtime: Runtime
    app: Flask
    clock: FrozenClock
    gate: Gate
    hasher: GatedHasher

    def session(self) -> Session:
        return self.runtime.session_factory()


@pytest.fixture
def deployment(
    backend: str, committed_db: str, tmp_path: Path, keyring: KeyRing
) -> Iterator[Deployment]:
    engine = make_engine(committed_db, pool_size=2 * BURST)
    gate = Gate(parties=BURST, wait=backend == "postgresql")
    hasher = GatedHasher(gate)
    clock = FrozenClock()
    settings = make_settings(tmp_path, committed_db, keyring)
    runtime = build_runtime(settings, clock=clock, engine=engine, keyring=keyring, hasher=hasher)
    try:
        yield Deployment(runtime, create_app(settings, runtime=runtime), clock, gate, hasher)
    finally:
        engine.dispose()


def burst(
    d: Deployment, send: Callable[[Any, str], TestResponse], wrong: list[str], right: str
) -> tuple[list[TestResponse], TestResponse]:
    """``len(wrong)`` requests at once, then the right one once they are all at the gate."""
    assert len(wrong) == BURST - 1
    answers: dict[str, TestResponse] = {}
    lock = threading.Lock()

    def run(secret: str) -> None:
        r = send(d.app.test_client(), secret)
        with lock:
            answers[secret] = r

    d.gate.arm()
    threads = [threading.Thread(target=run, args=(secret,)) for secret in wrong]
    for t in threads:
        t.start()
    d.gate.until_arrived(BURST - 1)
    last = threading.Thread(target=run, args=(right,))
    last.start()
    for t in [*threads, last]:
        t.join(JOIN_SECONDS)
        assert not t.is_alive(), "a request of the burst never finished"
    d.gate.armed = False
    assert len(answers) == BURST
    return [answers[s] for s in wrong], answers[right]


def assert_refused_alike(answers: list[TestResponse], status: int) -> None:
    assert [r.status_code for r in answers] == [status] * len(answers)
    assert len({r.data for r in answers}) == 1, {r.data for r in answers}


def wrong_pins() -> list[str]:
    return [f"5509{i:02d}" for i in range(11, 11 + BURST - 1)]


# --- survivor PIN at login ----------------------------------------------------------------------


def test_a_burst_of_pin_guesses_at_login_checks_no_more_than_the_allowance(
    deployment: Deployment,
) -> None:
    d = deployment
    with d.session() as s:
        survivor, handle = make_survivor_account(s, d.runtime)
        s.commit()
        survivor_id = survivor.id

    def send(client: Any, pin: str) -> TestResponse:
        return client.post(
            "/v1/survivor/login",
            json={"account_handle": handle, "pin": pin},
            environ_base={"REMOTE_ADDR": ADDRESS},
        )

    wrong, right = burst(d, send, wrong_pins(), SURVIVOR_PIN)
    assert d.gate.arrived == BURST
    assert right.status_code == 401, "the right PIN arrived after the allowance was used up"
    assert d.hasher.checked_against(SURVIVOR_PIN) <= PIN_ALLOWANCE
    assert_refused_alike([*wrong, right], 401)
    _counted(d, survivor_id, PIN_ALLOWANCE)

    # The lock is in force: the right PIN is still refused, alike...
    client = d.app.test_client()
    d.clock.advance(seconds=PIN_FIRST_LOCK - 1)
    locked = send(client, SURVIVOR_PIN)
    assert locked.status_code == 401
    assert locked.data == right.data
    # ...until it runs out.
    d.clock.advance(seconds=1)
    assert send(client, SURVIVOR_PIN).status_code == 200
    _counted(d, survivor_id, 0)


def _counted(d: Deployment, owner_id: Any, expected: int) -> None:
    """The survivor's PIN count, as committed (``auth.attempts``)."""
    from tests.auth.attempt_probes import pin_count

    with d.session() as s:
        assert pin_count(d.runtime, s, owner_id) == expected


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
    from tests.factories import SURVIVOR_DURESS_PIN

    right_pin = SURVIVOR_DURESS_PIN if decoy else SURVIVOR_PIN

    def send(client: Any, pin: str) -> TestResponse:
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
        assert d.runtime.hasher.verify(s.get(Survivor, survivor_id).pin_hash, SURVIVOR_PIN)  # type: ignore[union-attr]

    # The lock is the login's too, and it runs out.
    client = d.app.test_client()
    login = {"account_handle": handle, "pin": SURVIVOR_PIN}
    assert client.post("/v1/survivor/login", json=login).status_code == 401
    assert send(client, right_pin).status_code == 403
    d.clock.advance(seconds=PIN_FIRST_LOCK)
    assert send(client, right_pin).status_code == 204


# --- staff password and code ---------------------------------------------------------------------


def test_a_burst_of_password_guesses_checks_no_more_than_the_allowance(
    deployment: Deployment,
) -> None:
    d = deployment
    with d.session() as s:
        alice = make_member(s, d.runtime)
        s.commit()
    email, password = alice.email, alice.password

    def send(client: Any, guess: str) -> TestResponse:
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

    client = d.app.test_client()
    d.clock.advance(seconds=STAFF_FIRST_LOCK - 1)
    locked = send(client, password)
    assert locked.status_code == 401
    assert locked.data == right.data
    d.clock.advance(seconds=1)
    assert send(client, password).status_code == 200


def test_a_burst_of_code_guesses_checks_no_more_than_the_allowance(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployment
    with d.session() as s:
        alice = make_member(s, d.runtime)
        s.commit()
    assert alice.seed is not None
    seed = alice.seed
    client = d.app.test_client()
    r = client.post(
        "/v1/staff/login",
        json={"email": alice.email, "password": alice.password},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert r.status_code == 200
    ticket = r.json["login_token"]  # type: ignore[index]

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
    monkeypatch.setattr(staff_login.audit, "record", gated_record)

    def send(client: Any, guess: str) -> TestResponse:
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

    locked = send(client, right_code)
    assert locked.status_code == 401
    assert locked.data == right.data
    d.clock.advance(seconds=STAFF_FIRST_LOCK)
    ok = send(client, code(seed, d.clock.now()))
    assert ok.status_code == 200, ok.get_data(as_text=True)


def test_the_gate_makes_requests_overlap_on_postgresql(
    backend: str, deployment: Deployment
) -> None:
    """The gate itself: on PostgreSQL no request passes it before the whole burst is there."""
    d = deployment
    passed: list[int] = []

    def send(client: Any, secret: str) -> TestResponse:
        d.hasher.verify(None, secret)
        passed.append(d.gate.arrived)
        return client.get("/healthz")  # type: ignore[no-any-return]

    burst(d, send, [str(i) for i in range(BURST - 1)], "last")
    if backend == "postgresql":
        assert passed == [BURST] * BURST
    else:
        assert sorted(passed)[0] < BURST
