"""An outside tester's return visit (issue 12), throttles: lockouts and sprays they allow.

Written against the commit that closed issue 12; each test fails there and names its finding in
the review report (severity in brackets). The attacks on decoys, PINs and settings are in
``tests/test_review_attacks.py``; on evidence in ``tests/test_review_evidence_attacks.py``.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from auth import attempts
from auth.attempts import STAFF_ACCOUNT, STAFF_ACCOUNT_TOTAL
from auth.staff.sessions import account_subject
from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.attempt_probes import count, retry_after
from tests.auth.factories_staff import code, make_member, post
from tests.factories import SURVIVOR_PIN, make_survivor_account
from tests.json_client import JsonClient, JsonResponse
from tests.test_review_pin_and_settings import _login

# --- [medium] an address shared with a survivor is enough to keep her out -----------------------


def test_junk_logins_from_a_shared_address_slow_a_survivor_openly_and_never_touch_her_account(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """A refuge's network, a household's Wi-Fi or a mobile carrier's CGNAT gateway: one public
    address for many phones. Anyone behind it can use up the address allowance with junk
    logins and keep it spent. The reviewer asked that her login still go through; it cannot
    without a worse hole: letting known handles past the address lock while unknown ones are
    refused tells whoever holds a handle whether it is an account (the answers differ), and
    checking PINs for a locked address costs three argon2 hashes a request (any one machine
    could then keep every core busy). So the address lock turns everyone from that address
    away at the door, openly and cheaply: a 429 with a short Retry-After (a minute at most),
    no PIN checked, and her own account untouched: no count, no lock, nothing told to her
    advocates. The limitation is in the README; a proxy's per-address limit is the place to
    stop such a machine sooner."""
    owner, handle = make_survivor_account(db_session, runtime)
    db_session.commit()
    refuge = "198.51.100.20"
    for i in range(attempts.APP_ADDRESS.allowance):
        junk = _login(client, handle=f"junk-{i:04d}" + "x" * 36, pin="000000", address=refuge)
        assert junk.status_code == 401
    r = _login(client, handle, SURVIVOR_PIN, address=refuge)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= attempts.APP_ADDRESS.max_lock.total_seconds()
    subject = f"survivor:{owner.id}"
    assert count(runtime, db_session, attempts.SURVIVOR_PIN, subject) == 0
    assert count(runtime, db_session, attempts.SURVIVOR_PIN_BACKSTOP, subject) == 0
    # When the junk stops, the wait is all it costs her.
    clock.advance(seconds=int(r.headers["Retry-After"]))
    assert _login(client, handle, SURVIVOR_PIN, address=refuge).status_code == 200


# --- [medium] an advocate can be kept out by anyone who knows her email -------------------------


def test_a_stranger_cannot_keep_an_advocate_locked_out_with_one_request_per_lock(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """Staff emails are guessable (the module says so). From one address, four wrong passwords,
    then one more each time the lock runs out: the lock doubles to 15 minutes and stays there,
    some 100 requests a day, far inside the address allowance. The advocate, from her own
    office, is refused with her right password whenever she tries, and cannot answer the
    duress alarm waiting in her console."""
    alice = make_member(db_session, runtime)
    assert alice.seed is not None
    db_session.commit()
    stranger = {"REMOTE_ADDR": "192.0.2.66"}
    office = {"REMOTE_ADDR": "198.51.100.30"}

    def guess() -> None:
        client.post(
            "/v1/staff/login",
            json={"email": alice.email, "password": "Winter-is-coming-2026"},
            environ_base=stranger,
        )

    for _ in range(STAFF_ACCOUNT.allowance):
        guess()
    for _ in range(8):  # two hours of it
        wait = retry_after(runtime, db_session, STAFF_ACCOUNT, account_subject(alice.email))
        clock.advance(seconds=wait)
        guess()
    clock.advance(minutes=3)
    r = client.post(
        "/v1/staff/login",
        json={"email": alice.email, "password": alice.password},
        environ_base=office,
    )
    assert r.status_code == 200, "her right password from her own office is refused"
    r = post(
        client,
        "/v1/staff/login/code",
        {"login_token": r.json["login_token"], "code": code(alice.seed, clock.now())},
    )
    assert r.status_code == 200


def test_junk_logins_from_an_office_address_slow_its_advocates_openly_and_briefly(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """The staff side of the same: one machine behind the office's address tries made-up
    emails until the address allowance is spent. The address lock is what stops one machine
    spraying common passwords over guessable staff emails, so it must hold for everyone behind
    it; it is answered openly (429, Retry-After), before any password is hashed, and no
    advocate's account is counted or locked by it."""
    from auth.attempts import CLIENT_ADDRESS

    alice = make_member(db_session, runtime)
    db_session.commit()
    office = {"REMOTE_ADDR": "198.51.100.31"}
    for n in range(CLIENT_ADDRESS.allowance):
        client.post(
            "/v1/staff/login",
            json={"email": f"nobody-{n}@example.org", "password": "Winter-is-coming-2026"},
            environ_base=office,
        )
    r = client.post(
        "/v1/staff/login",
        json={"email": alice.email, "password": alice.password},
        environ_base=office,
    )
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert 0 < wait <= CLIENT_ADDRESS.first_lock.total_seconds()
    assert count(runtime, db_session, STAFF_ACCOUNT_TOTAL, account_subject(alice.email)) == 0
    clock.advance(seconds=wait)
    r = client.post(
        "/v1/staff/login",
        json={"email": alice.email, "password": alice.password},
        environ_base=office,
    )
    assert r.status_code == 200


# --- [medium] a locked-out machine still costs three argon2 hashes a request --------------------


def test_a_machine_whose_address_is_locked_costs_no_argon2_per_request(
    client: JsonClient, db_session: Session, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each survivor login does 1 + MAX_DEPTH argon2 verifies (64 MiB and ~0.3 s each in
    production) whether or not it is refused, so that time tells nothing about an account.
    Once the caller's own address is locked that buys nothing: the address's state is the
    caller's own to know. Yet a locked machine's every request still costs three hashes:
    one machine sending a few dozen requests a second keeps every core busy and the app's
    memory full, and survivors cannot log in. The throttle protects no CPU at all."""
    machine = "203.0.113.200"
    for i in range(attempts.APP_ADDRESS.allowance):
        _login(client, handle=f"junk-{i:04d}" + "x" * 36, pin="000000", address=machine)
    verifies: list[str | None] = []
    real_verify = runtime.hasher.verify

    def counting(stored_hash: str | None, secret: str) -> bool:
        verifies.append(stored_hash)
        return real_verify(stored_hash, secret)

    monkeypatch.setattr(runtime.hasher, "verify", counting)
    for i in range(20):  # while the address is locked
        r = _login(client, handle=f"more-{i:04d}" + "x" * 36, pin="000000", address=machine)
        assert r.status_code in (401, 429)
    assert len(verifies) == 0, f"{len(verifies)} argon2 verifies for 20 refused requests"


# --- [medium] IPv6: every address of a /64 is a new machine to the spraying throttle -----------


def test_spraying_staff_passwords_from_one_ipv6_network_is_throttled_like_one_address(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """The per-address throttle is what stops one machine spraying common passwords over the
    (guessable) staff emails. Any IPv6 host holds a whole /64 (2**64 addresses) and can send
    each guess from a new one: the allowance of the address never runs out. From one IPv4
    address the 21st attempt in a row is refused; from one /64 it never is."""
    from auth.attempts import CLIENT_ADDRESS

    members = [make_member(db_session, runtime) for _ in range(CLIENT_ADDRESS.allowance + 1)]
    db_session.commit()

    def attempt(member_index: int, password: str, address: str) -> JsonResponse:
        return client.post(
            "/v1/staff/login",
            json={"email": members[member_index].email, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )

    for i in range(CLIENT_ADDRESS.allowance):  # one common password per account: a spray
        assert attempt(i, "Summer-holiday-2026!", f"2001:db8:77:5::{i + 1:x}").status_code == 401
    last = CLIENT_ADDRESS.allowance
    # The next guess happens to be right: the /64 is one network, refused openly, unseen.
    r = attempt(last, members[last].password, f"2001:db8:77:5::{last + 1:x}")
    assert r.status_code == 429, "the /64 sprayed past the address allowance"
    # IPv4-mapped addresses count as the IPv4 address they are.
    assert attempts.network_of("::ffff:192.0.2.7") == attempts.network_of("192.0.2.7")
    assert attempts.network_of("2001:db8:77:5::1") == "2001:db8:77:5::/64"
