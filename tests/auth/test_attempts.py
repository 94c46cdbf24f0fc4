"""Attempt slots (``auth.attempts``): the policies' arithmetic and what a slot means.

A guess takes its slot, and the lock its failure would earn, before the secret is checked; a
success gives it back (an account starts again, an address takes only itself back); a refused
attempt changes nothing; quiet keys are forgotten and pruned.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.registry import job_registry
from auth import attempts
from auth.attempts import (
    APP_ADDRESS,
    CLIENT_ADDRESS,
    STAFF_ACCOUNT,
    SURVIVOR_PIN,
    SURVIVOR_PIN_BACKSTOP,
    TOKEN_ADDRESS,
    AttemptPolicy,
)
from auth.models import AttemptCounter
from core.clock import FrozenClock
from core.crypto import KeyRing
from core.runtime import Runtime
from core.worker import Worker
from tests.auth.attempt_probes import count, counter, counter_key, counters, retry_after
from tests.auth.deployment import Deployment

S = dt.timedelta(seconds=1)


def _take(runtime: Runtime, session: Session, *subjects: tuple[AttemptPolicy, str]) -> int | None:
    """Take one attempt; the number it got under its first policy, or None when refused."""
    taken = attempts.take(session, runtime.clock, counters(runtime), list(subjects))
    return None if taken is None else taken.number(subjects[0][0])


def _fill(runtime: Runtime, session: Session, policy: AttemptPolicy, subject: str, n: int) -> None:
    """``n`` failed attempts in a row, each after the lock before it ran out."""
    for _ in range(n):
        wait = retry_after(runtime, session, policy, subject)
        if wait:
            assert isinstance(runtime.clock, FrozenClock)
            runtime.clock.advance(seconds=wait)
        assert _take(runtime, session, (policy, subject)) is not None


def _state(row: AttemptCounter | None) -> tuple[int, dt.datetime | None, dt.datetime] | None:
    return None if row is None else (row.attempts, row.locked_until, row.forget_at)


# --- the policies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "locks"),
    [
        # Five PINs in a row are checked; the 5th waits 30 s if wrong, doubling up to an hour.
        (SURVIVOR_PIN, [0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]),
        # Four staff attempts; then 2 s doubling up to 15 minutes.
        (STAFF_ACCOUNT, [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]),
    ],
)
def test_locks_start_at_the_allowance_and_double_up_to_the_cap(
    policy: AttemptPolicy, locks: list[int]
) -> None:
    assert [policy.lock_after(n).total_seconds() for n in range(1, len(locks) + 1)] == locks


def test_address_and_token_policies_are_lenient_but_bounded() -> None:
    assert CLIENT_ADDRESS.lock_after(19) == dt.timedelta(0)
    assert CLIENT_ADDRESS.lock_after(20) == 2 * S
    assert CLIENT_ADDRESS.lock_after(21) == 4 * S
    assert CLIENT_ADDRESS.lock_after(30) == 15 * 60 * S
    assert TOKEN_ADDRESS.lock_after(9) == dt.timedelta(0)
    assert TOKEN_ADDRESS.lock_after(10) == 2 * S
    # Only accounts start again after a success: an address shared by an office or a refuge
    # must not have a spraying machine's record laundered by one good login.
    by_name = {p.name: p for p in attempts.POLICIES}
    accounts = {"survivor-pin", "survivor-pin-backstop", "staff-account", "staff-account-total"}
    assert {n for n, p in by_name.items() if p.clear_on_success} == accounts
    # Only the real PIN clears the backstop of guesses at it (a duress login does not).
    assert {n for n, p in by_name.items() if p.cleared_only_by_owner} == {"survivor-pin-backstop"}
    # What belongs to the caller (its network, its own PIN changes) is refused openly, before
    # any secret is hashed; what an account or a code is guessed under is refused uniformly.
    assert {n for n, p in by_name.items() if p.refused_openly} == {
        "client-address",
        "app-address",
        "token-address",
        "survivor-pin-changes",
    }
    # The survivors' app address is lenient: carrier gateways and refuges share addresses, and
    # a handle cannot be sprayed; each account's own PIN allowance is the defence there.
    assert APP_ADDRESS.lock_after(199) == dt.timedelta(0)
    assert APP_ADDRESS.lock_after(200) == S
    assert APP_ADDRESS.max_lock == 60 * S
    # A key remembers for longer than its longest lock, so waiting out a lock never resets it.
    for policy in attempts.POLICIES:
        assert policy.forget_after > policy.max_lock


@pytest.mark.parametrize("policy", attempts.POLICIES, ids=lambda p: p.name)
def test_a_huge_attempt_number_is_the_cap_not_an_overflow(policy: AttemptPolicy) -> None:
    assert policy.lock_after(10**9) == policy.max_lock
    assert policy.lock_after(policy.allowance + 32) == policy.max_lock


# --- taking slots -------------------------------------------------------------------------------


def test_each_guess_takes_the_next_slot_and_the_lock_is_set_before_any_check(
    db_session: Session, runtime: Runtime
) -> None:
    numbers = [_take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) for _ in range(4)]
    assert numbers == [1, 2, 3, 4]
    assert retry_after(runtime, db_session, SURVIVOR_PIN, "survivor:a") == 0
    # The 5th is still checked, but its lock is already in force while it is being checked:
    # a parallel 6th guess is refused without waiting for the 5th to fail.
    assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) == 5
    assert retry_after(runtime, db_session, SURVIVOR_PIN, "survivor:a") == 30
    assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) is None
    # Other subjects, and the same subject under another policy, are counted apart.
    assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:b")) == 1
    assert _take(runtime, db_session, (STAFF_ACCOUNT, "survivor:a")) == 1


def test_a_refused_attempt_changes_nothing(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _fill(runtime, db_session, SURVIVOR_PIN, "survivor:a", 6)
    before = _state(counter(runtime, db_session, SURVIVOR_PIN, "survivor:a"))
    assert before is not None
    assert before[1] == clock.now() + 60 * S
    for _ in range(3):
        clock.advance(seconds=10)
        assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) is None
    # Not counted, not lengthened, not even "seen": the wait a real user sits out ends.
    assert _state(counter(runtime, db_session, SURVIVOR_PIN, "survivor:a")) == before
    assert retry_after(runtime, db_session, SURVIVOR_PIN, "survivor:a") == 30


def test_a_refused_attempt_gives_back_the_slots_it_took_under_other_keys(
    db_session: Session, runtime: Runtime
) -> None:
    _fill(runtime, db_session, SURVIVOR_PIN, "survivor:locked", 5)
    _fill(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.1", 3)
    # Locked only at the account, but counted at the address first: the address slot is
    # given back, so the address's own record is what it was.
    refused = _take(
        runtime,
        db_session,
        (CLIENT_ADDRESS, "login:10.0.0.1"),
        (SURVIVOR_PIN, "survivor:locked"),
    )
    assert refused is None
    assert count(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.1") == 3
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.1") == 0


def test_a_refused_attempt_does_not_relock_an_address_past_its_allowance(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """An office address that has seen more than its allowance, its last lock waited out.

    A guess at a locked account from there is refused; the slot it took at the address must
    go back with the lock that slot set, or the refusal locks the whole office out again.
    """
    _fill(runtime, db_session, CLIENT_ADDRESS, "login:office", 22)
    clock.advance(seconds=retry_after(runtime, db_session, CLIENT_ADDRESS, "login:office"))
    _fill(runtime, db_session, SURVIVOR_PIN, "survivor:locked", 5)
    refused = _take(
        runtime, db_session, (CLIENT_ADDRESS, "login:office"), (SURVIVOR_PIN, "survivor:locked")
    )
    assert refused is None
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, "login:office") == 0
    assert count(runtime, db_session, CLIENT_ADDRESS, "login:office") == 22


# --- giving slots back --------------------------------------------------------------------------


def test_a_success_clears_an_account_but_gives_an_address_only_its_own_slot(
    db_session: Session, runtime: Runtime
) -> None:
    _fill(runtime, db_session, SURVIVOR_PIN, "survivor:a", 3)
    _fill(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.2", 3)
    taken = attempts.take(
        db_session,
        runtime.clock,
        counters(runtime),
        [(CLIENT_ADDRESS, "login:10.0.0.2"), (SURVIVOR_PIN, "survivor:a")],
    )
    assert taken is not None
    assert (taken.number(CLIENT_ADDRESS), taken.number(SURVIVOR_PIN)) == (4, 4)
    attempts.succeeded(db_session, counters(runtime), taken)
    assert counter(runtime, db_session, SURVIVOR_PIN, "survivor:a") is None
    assert count(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.2") == 3


def test_a_success_at_the_allowance_lifts_the_lock_its_own_slot_set(
    db_session: Session, runtime: Runtime
) -> None:
    _fill(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.3", 19)
    taken = attempts.take(
        db_session, runtime.clock, counters(runtime), [(CLIENT_ADDRESS, "login:10.0.0.3")]
    )
    assert taken is not None
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.3") == 2
    attempts.succeeded(db_session, counters(runtime), taken)
    assert count(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.3") == 19
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, "login:10.0.0.3") == 0


def test_a_success_past_the_allowance_leaves_the_address_unlocked(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """Someone at a busy office logs in after the office's last lock ran out.

    Her success gives the address its slot back, and must give back the lock that slot set
    too: a good login may not lock the next person at the same address out.
    """
    _fill(runtime, db_session, CLIENT_ADDRESS, "login:office", 24)
    clock.advance(seconds=retry_after(runtime, db_session, CLIENT_ADDRESS, "login:office"))
    taken = attempts.take(
        db_session, runtime.clock, counters(runtime), [(CLIENT_ADDRESS, "login:office")]
    )
    assert taken is not None
    attempts.succeeded(db_session, counters(runtime), taken)
    assert count(runtime, db_session, CLIENT_ADDRESS, "login:office") == 24
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, "login:office") == 0
    # The record is not laundered: the next failure there is the 25th, and locks again.
    assert _take(runtime, db_session, (CLIENT_ADDRESS, "login:office")) == 25
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, "login:office") == 64


def test_only_gives_back_one_policys_slots(db_session: Session, runtime: Runtime) -> None:
    _fill(runtime, db_session, STAFF_ACCOUNT, "staff:a@lantern.test", 1)
    taken = attempts.take(
        db_session,
        runtime.clock,
        counters(runtime),
        [(CLIENT_ADDRESS, "staff-login:10.0.0.4"), (STAFF_ACCOUNT, "staff:a@lantern.test")],
    )
    assert taken is not None
    attempts.succeeded(db_session, counters(runtime), taken, only=CLIENT_ADDRESS)
    assert count(runtime, db_session, CLIENT_ADDRESS, "staff-login:10.0.0.4") == 0
    assert count(runtime, db_session, STAFF_ACCOUNT, "staff:a@lantern.test") == 2
    attempts.succeeded(db_session, counters(runtime), taken, only=STAFF_ACCOUNT)
    assert counter(runtime, db_session, STAFF_ACCOUNT, "staff:a@lantern.test") is None


def test_clear_forgets_every_attempt(db_session: Session, runtime: Runtime) -> None:
    _fill(runtime, db_session, SURVIVOR_PIN, "survivor:a", 5)
    attempts.clear(db_session, counters(runtime), SURVIVOR_PIN, "survivor:a")
    assert counter(runtime, db_session, SURVIVOR_PIN, "survivor:a") is None
    assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) == 1


# --- time ---------------------------------------------------------------------------------------


def test_a_lock_ends_with_the_clock_and_the_next_failure_doubles_it(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _fill(runtime, db_session, SURVIVOR_PIN, "survivor:a", 5)
    clock.advance(seconds=29)
    assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) is None
    assert retry_after(runtime, db_session, SURVIVOR_PIN, "survivor:a") == 1
    clock.advance(seconds=1)
    assert retry_after(runtime, db_session, SURVIVOR_PIN, "survivor:a") == 0
    assert _take(runtime, db_session, (SURVIVOR_PIN, "survivor:a")) == 6
    assert retry_after(runtime, db_session, SURVIVOR_PIN, "survivor:a") == 60


def test_a_key_quiet_for_forget_after_starts_again(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _fill(runtime, db_session, STAFF_ACCOUNT, "staff:b@lantern.test", 3)
    clock.advance(seconds=STAFF_ACCOUNT.forget_after.total_seconds())
    # Exactly forget_after later the key still remembers...
    assert _take(runtime, db_session, (STAFF_ACCOUNT, "staff:b@lantern.test")) == 4
    attempts.clear(db_session, counters(runtime), STAFF_ACCOUNT, "staff:b@lantern.test")
    _fill(runtime, db_session, STAFF_ACCOUNT, "staff:b@lantern.test", 3)
    clock.advance(seconds=STAFF_ACCOUNT.forget_after.total_seconds() + 1)
    # ...a second more and it starts again from the first attempt, with no lock.
    assert _take(runtime, db_session, (STAFF_ACCOUNT, "staff:b@lantern.test")) == 1
    assert retry_after(runtime, db_session, STAFF_ACCOUNT, "staff:b@lantern.test") == 0


def test_a_busy_shared_address_still_forgets_old_failures(
    db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """Successes keep a shared address (an office, a carrier's gateway) busy all day; the
    window is counted from the run's first attempt, so its failures are still forgotten."""
    subject = "staff-login:192.0.2.44"
    _fill(runtime, db_session, CLIENT_ADDRESS, subject, CLIENT_ADDRESS.allowance - 1)
    for _ in range(120):  # two hours of people logging in, one a minute
        clock.advance(seconds=60)
        taken = attempts.take(
            db_session, runtime.clock, counters(runtime), [(CLIENT_ADDRESS, subject)]
        )
        assert taken is not None
        attempts.succeeded(db_session, counters(runtime), taken)
    # The failures of the first hour are gone: a wrong password now is the first of a new run.
    assert _take(runtime, db_session, (CLIENT_ADDRESS, subject)) == 1
    assert retry_after(runtime, db_session, CLIENT_ADDRESS, subject) == 0


# --- keys and housekeeping ----------------------------------------------------------------------


def test_keys_are_keyed_digests_never_the_subject(
    db_session: Session, runtime: Runtime, keyring: KeyRing
) -> None:
    subject = "staff:someone.private@lantern.test"
    _take(runtime, db_session, (STAFF_ACCOUNT, subject))
    _take(runtime, db_session, (CLIENT_ADDRESS, "staff-login:203.0.113.9"))
    keys = set(db_session.scalars(select(AttemptCounter.key)))
    assert counter_key(runtime, STAFF_ACCOUNT, subject) in keys
    assert all(len(k) == 64 and "@" not in k and "203.0" not in k for k in keys)
    # Keyed (HMAC under the index key), not a plain hash anyone could recompute from a guess.
    other = KeyRing.generate("other")
    assert other.keyed_digest("attempts", f"staff-account\x00{subject}") not in keys


def test_prune_forgets_what_each_policy_forgets_and_keeps_locks(
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    now = clock.now()
    rows = {
        "forgotten": AttemptCounter(key="a" * 64, attempts=3, locked_until=None, forget_at=now - S),
        "forgotten, lock ended": AttemptCounter(
            key="b" * 64, attempts=9, locked_until=now - S, forget_at=now - S
        ),
        "forgotten, still locked": AttemptCounter(
            key="c" * 64, attempts=40, locked_until=now + S, forget_at=now - S
        ),
        "remembered": AttemptCounter(
            key="d" * 64, attempts=1, locked_until=None, forget_at=now + S
        ),
    }
    db_session.add_all(rows.values())
    db_session.flush()
    assert attempts.prune(db_session, now) == 2
    left = set(db_session.scalars(select(AttemptCounter.key)))
    assert left == {"c" * 64, "d" * 64}
    # Each row by its own policy: a made-up staff email is forgotten after an hour, not the
    # week the survivors' backstop remembers.
    _take(runtime, db_session, (STAFF_ACCOUNT, "staff:nobody@example.org"))
    _take(runtime, db_session, (SURVIVOR_PIN_BACKSTOP, "survivor-handle:made-up"))
    clock.advance(seconds=STAFF_ACCOUNT.forget_after.total_seconds() + 1)
    attempts.prune(db_session, clock.now())
    assert counter(runtime, db_session, STAFF_ACCOUNT, "staff:nobody@example.org") is None
    assert counter(runtime, db_session, SURVIVOR_PIN_BACKSTOP, "survivor-handle:made-up")

    # The worker runs it on its own, as a periodic job.
    db_session.add(
        AttemptCounter(key="e" * 64, attempts=1, locked_until=None, forget_at=clock.now() - S)
    )
    db_session.commit()
    registry = job_registry(runtime)
    assert registry.types[attempts.PRUNE_JOB].every_seconds == 3600
    Worker(session_factory, registry, clock).run_once()
    db_session.expire_all()
    assert "e" * 64 not in set(db_session.scalars(select(AttemptCounter.key)))


# --- where the slot is committed ------------------------------------------------------------------


def test_a_slot_is_committed_at_once_on_postgresql_and_in_the_request_on_sqlite(
    backend: str, deployment: Deployment
) -> None:
    """PostgreSQL: the slot is taken and committed in a short transaction of its own, so other
    connections see it while the request is still verifying, and it outlives the request's
    rollback. SQLite: the request holds the only write lock, so the slot is simply part of the
    request's transaction."""
    runtime = deployment.runtime
    with runtime.session_factory() as request:
        assert (
            attempts.take(request, runtime.clock, counters(runtime), [(SURVIVOR_PIN, "survivor:x")])
            is not None
        )
        if backend == "postgresql":
            with runtime.session_factory() as other:
                assert count(runtime, other, SURVIVOR_PIN, "survivor:x") == 1
        else:
            assert count(runtime, request, SURVIVOR_PIN, "survivor:x") == 1
        request.rollback()
    with runtime.session_factory() as after:
        expected = 1 if backend == "postgresql" else 0
        assert count(runtime, after, SURVIVOR_PIN, "survivor:x") == expected
