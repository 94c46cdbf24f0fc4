"""Attempt slots: every guess at a secret is counted, atomically, *before* the secret is checked.

Checking a throttle, then verifying (argon2 takes hundreds of milliseconds), then counting the
failure lets a burst of parallel guesses all pass the check before any failure is counted. So a
guess first takes a slot: one conditional upsert, committed on its own, that counts the attempt
as a failure and sets the lock that failure would earn. Only then is the secret verified; a
success gives the slot back (an account: the count is cleared; an address shared by an office
or a refuge: only this attempt is taken back). A burst of N parallel guesses therefore checks at
most ``allowance`` of them; the rest are refused unseen, and a right secret that arrives after
the allowance is used up is refused like any other attempt while the lock lasts.

The counters are rows in the application's own database (``attempt_counters``), so they hold
across processes, workers and restarts with nothing else to run. Keys are keyed digests
(``KeyRing.keyed_digest``): a handle, email or address is never stored.

On SQLite every transaction holds the database's single write lock from its first statement
(``BEGIN IMMEDIATE``), so nothing runs beside the request and the slot is taken in the
request's own transaction (a second connection would wait on the first). On PostgreSQL the slot
is taken in a short transaction of its own, so the row lock is held for one statement, not for
the verify.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from auth.deps import AttemptDeps
from auth.models import AttemptCounter
from core.clock import Clock
from core.errors import TooManyRequests

_COUNTERS = AttemptCounter.__table__


class TooManyAttempts(TooManyRequests):
    """Refused under a policy that is ``refused_openly``: slow down, and say for how long."""

    type_slug = "too-many-attempts"
    title = "Too many attempts"
    keep_changes = True  # slots given back on the way must stay given back


@dataclass(frozen=True, slots=True)
class AttemptPolicy:
    """How many guesses in a row are checked at once, and how long each one after waits."""

    name: str
    #: Attempts in a row that are checked without waiting.
    allowance: int
    #: The wait after the ``allowance``-th attempt; it doubles with each attempt after.
    first_lock: dt.timedelta
    max_lock: dt.timedelta
    #: How long a run of attempts is remembered. For an account, counted from the last
    #: attempt: whoever keeps guessing is never forgotten and stays at the longest lock. For an
    #: address (``clear_on_success`` False), counted from the run's first attempt: the
    #: successes of a busy shared address (an office, a mobile carrier's gateway) keep it busy
    #: all day, and must not keep its old failures alive with them.
    forget_after: dt.timedelta
    #: True for an account (a success proves the holder); False for a client address, where
    #: one good login must not launder a spraying machine's record: it only takes itself back.
    clear_on_success: bool
    #: Cleared only by the real PIN: a duress PIN (which opens a decoy) gives back its own slot
    #: and leaves the wrong guesses before it counted (see ``SURVIVOR_PIN_BACKSTOP``).
    cleared_only_by_owner: bool = False
    #: A refusal is answered at once, as ``TooManyAttempts`` (429 with Retry-After), before
    #: any secret is hashed: the count belongs to the caller (their own network address, or
    #: the PIN changes of their own session), so telling them tells nothing about an account,
    #: and a locked machine must not cost the service an argon2 hash a request.
    refused_openly: bool = False
    #: What an open refusal says (``TooManyAttempts``'s detail).
    refusal: str = "Too many attempts from this network; wait a moment before trying again."

    def lock_after(self, attempt: int) -> dt.timedelta:
        """The wait the ``attempt``-th attempt in a row earns if it fails."""
        if attempt < self.allowance:
            return dt.timedelta(0)
        doublings = min(attempt - self.allowance, 32)  # 2**32 first locks outgrow any cap
        lock: dt.timedelta = min(self.max_lock, self.first_lock * (2**doublings))
        return lock


_MINUTE = dt.timedelta(minutes=1)
_HOUR = dt.timedelta(hours=1)

#: A survivor's PIN, across login and every in-session PIN check of the account and its decoy.
SURVIVOR_PIN = AttemptPolicy(
    "survivor-pin", 5, dt.timedelta(seconds=30), _HOUR, dt.timedelta(days=1), True
)
#: Every wrong PIN since the real PIN was last given. A duress login clears ``SURVIVOR_PIN``
#: like any right PIN (a real account and its decoy must lock alike, or whoever tests the
#: decoy finds it out); without this backstop, four wrong guesses and a duress login, repeated,
#: would guess the real PIN forever. It allows far more than anyone using the app ever needs,
#: then locks for hours; her advocates hear of every fifth wrong PIN either way.
SURVIVOR_PIN_BACKSTOP = AttemptPolicy(
    "survivor-pin-backstop",
    50,
    _HOUR,
    dt.timedelta(days=1),
    dt.timedelta(days=7),
    True,
    cleared_only_by_owner=True,
)
#: A staff account as tried from one place (an address, or one session for re-authentication):
#: password, TOTP and recovery codes, step-up. Counted per place, so that a stranger who knows
#: an advocate's email (emails can be guessed) locks out his own address, not her office.
STAFF_ACCOUNT = AttemptPolicy(
    "staff-account", 4, dt.timedelta(seconds=2), 15 * _MINUTE, _HOUR, True
)
#: The same account from everywhere: what a guesser spread over many addresses meets. Far more
#: than a person ever needs, so that keeping an advocate out takes a sustained attack.
STAFF_ACCOUNT_TOTAL = AttemptPolicy(
    "staff-account-total", 50, 15 * _MINUTE, 4 * _HOUR, dt.timedelta(days=1), True
)
#: PIN changes of one survivor account (real and decoy alike), right or not. A change compares
#: the new PIN with the duress PIN; whoever forced the real PIN must not be able to try PIN
#: after PIN until that comparison gives the duress PIN away.
PIN_CHANGES = AttemptPolicy(
    "survivor-pin-changes",
    5,
    _HOUR,
    12 * _HOUR,
    dt.timedelta(days=1),
    False,
    refused_openly=True,
    refusal="The PIN has been changed too often today; try again later.",
)
#: One client address, at staff login. Lenient: a whole office may share one address; it stops
#: one machine spraying common passwords over many staff accounts (emails can be guessed).
CLIENT_ADDRESS = AttemptPolicy(
    "client-address", 20, dt.timedelta(seconds=2), 15 * _MINUTE, _HOUR, False, refused_openly=True
)
#: One client address, at survivor login. Very lenient: survivors' phones share carrier
#: gateways (CGNAT) and refuges' networks, and an account handle is a random 256-bit token that
#: cannot be sprayed, so each account's own PIN allowance is the real defence; this only slows
#: one machine hammering the endpoint.
APP_ADDRESS = AttemptPolicy(
    "app-address", 200, dt.timedelta(seconds=1), _MINUTE, _HOUR, False, refused_openly=True
)
#: Codes and tokens that are single-use and long (enrolment codes, invitations), per address:
#: they cannot be guessed, so this only stops a machine from trying.
TOKEN_ADDRESS = AttemptPolicy(
    "token-address", 10, dt.timedelta(seconds=2), 15 * _MINUTE, _HOUR, False, refused_openly=True
)
#: One such code, from anywhere: refused like a wrong code (it is the secret being tried).
TOKEN = AttemptPolicy("token", 10, dt.timedelta(seconds=2), 15 * _MINUTE, _HOUR, False)

POLICIES: tuple[AttemptPolicy, ...] = (
    SURVIVOR_PIN,
    SURVIVOR_PIN_BACKSTOP,
    PIN_CHANGES,
    STAFF_ACCOUNT,
    STAFF_ACCOUNT_TOTAL,
    CLIENT_ADDRESS,
    APP_ADDRESS,
    TOKEN_ADDRESS,
    TOKEN,
)


@dataclass(frozen=True, slots=True)
class Slot:
    policy: AttemptPolicy
    key: str  # keyed digest of policy and subject
    number: int  # this attempt's place in the run of attempts without a success
    locked_until: dt.datetime | None = None  # the lock this slot set


@dataclass(frozen=True, slots=True)
class Taken:
    """The slots one attempt holds (one per key it is counted under)."""

    slots: tuple[Slot, ...]

    def number(self, policy: AttemptPolicy) -> int:
        return next(s.number for s in self.slots if s.policy is policy)


def network_of(address: str | None) -> str:
    """The network one machine controls, as an address subject: an IPv6 host holds a whole /64
    (2**64 addresses to send each guess from), so IPv6 counts by /64; an IPv4-mapped address
    counts as its IPv4 address."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "unparsable"  # one bucket for whatever a proxy passed through
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _digest(deps: AttemptDeps, policy: AttemptPolicy, subject: str) -> str:
    return deps.keyring.keyed_digest("attempts", f"{policy.name}\x00{subject}")


@contextmanager
def _own_transaction(session: Session, deps: AttemptDeps) -> Iterator[Session]:
    """A short transaction committed at once; on SQLite, the request's own (see module doc)."""
    if session.get_bind().dialect.name == "sqlite":
        yield session
        session.flush()
        return
    with deps.session_factory() as own:
        yield own
        own.commit()


def _take_one(
    s: Session, policy: AttemptPolicy, key: str, now: dt.datetime
) -> tuple[int, dt.datetime | None] | None:
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    forgotten = _COUNTERS.c.forget_at < now
    forget_at = now + policy.forget_after
    stmt = (
        insert(AttemptCounter)
        .values(key=key, attempts=1, locked_until=None, forget_at=forget_at)
        .on_conflict_do_update(
            index_elements=[_COUNTERS.c.key],
            set_={
                "attempts": case((forgotten, 1), else_=_COUNTERS.c.attempts + 1),
                # An account is remembered from its last attempt, an address from the first
                # of its run (see ``AttemptPolicy.forget_after``).
                "forget_at": (
                    forget_at
                    if policy.clear_on_success
                    else case((forgotten, forget_at), else_=_COUNTERS.c.forget_at)
                ),
            },
            # While locked the row is left alone: no slot, and a refused attempt does not
            # lengthen the wait a real user is sitting out.
            where=or_(_COUNTERS.c.locked_until.is_(None), _COUNTERS.c.locked_until <= now),
        )
        .returning(_COUNTERS.c.attempts)
    )
    number: int | None = s.execute(stmt).scalar_one_or_none()
    if number is None:
        return None
    lock = policy.lock_after(number)
    until = now + lock if lock else None
    # Same transaction, row already locked by the upsert: nobody sees the count without it.
    s.execute(
        update(AttemptCounter)
        .where(AttemptCounter.key == key)
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(number), until


def _give_back(s: Session, slot: Slot, *, clear: bool) -> None:
    if clear:
        s.execute(
            delete(AttemptCounter)
            .where(AttemptCounter.key == slot.key)
            .execution_options(synchronize_session=False)
        )
        return
    s.execute(
        update(AttemptCounter)
        .where(AttemptCounter.key == slot.key, AttemptCounter.attempts > 0)
        .values(
            attempts=AttemptCounter.attempts - 1,
            locked_until=case(
                (AttemptCounter.attempts - 1 < slot.policy.allowance, None),
                (AttemptCounter.locked_until == slot.locked_until, None),
                else_=AttemptCounter.locked_until,
            ),
        )
        .execution_options(synchronize_session=False)
    )


def take(
    session: Session,
    clock: Clock,
    deps: AttemptDeps,
    subjects: Sequence[tuple[AttemptPolicy, str]],
) -> Taken | None:
    """Take a slot under every (policy, subject), or None when any of them is locked.

    A refused attempt leaves every counter as it was (slots already taken for it are given
    back), so that waiting out a lock is enough to be let in again. Under a policy that is
    ``refused_openly`` the refusal is raised as ``TooManyAttempts`` instead: list such
    subjects first, so that nothing else is counted for a caller turned away at the door.
    """
    now = clock.now()
    slots: list[Slot] = []
    refused: tuple[AttemptPolicy, str] | None = None
    with _own_transaction(session, deps) as s:
        for policy, subject in subjects:
            key = _digest(deps, policy, subject)
            got = _take_one(s, policy, key, now)
            if got is None:
                for slot in slots:
                    _give_back(s, slot, clear=False)
                refused = (policy, key)
                break
            slots.append(Slot(policy, key, got[0], got[1]))
    if refused is None:
        return Taken(tuple(slots))
    policy, key = refused
    if policy.refused_openly:
        row = session.get(AttemptCounter, key, populate_existing=True)
        wait = (row.locked_until - now).total_seconds() if row and row.locked_until else 1.0
        raise TooManyAttempts(policy.refusal, retry_after=max(1, math.ceil(wait)))
    return None


def succeeded(
    session: Session,
    deps: AttemptDeps,
    taken: Taken,
    *,
    only: AttemptPolicy | None = None,
    proves_owner: bool = True,
) -> None:
    """The secret was right: accounts start again from nothing, addresses take this one back.

    ``only`` limits that to one policy's slots (a right password gives the address its slot
    back while the account's stays taken until the second factor is right too).
    ``proves_owner=False`` (a duress PIN, which opens a decoy) gives back only its own slot
    under a policy ``cleared_only_by_owner``: the wrong guesses before it stay counted there.
    """
    with _own_transaction(session, deps) as s:
        for slot in taken.slots:
            if only is None or slot.policy is only:
                clear = slot.policy.clear_on_success and (
                    proves_owner or not slot.policy.cleared_only_by_owner
                )
                _give_back(s, slot, clear=clear)


def unlock(session: Session, deps: AttemptDeps, taken: Taken, policy: AttemptPolicy) -> None:
    """Lift the lock ``policy``'s slot set (if no later attempt replaced it), keeping the slot
    counted: a right password must not leave its owner locked out of the code step."""
    with _own_transaction(session, deps) as s:
        for slot in taken.slots:
            if slot.policy is policy and slot.locked_until is not None:
                s.execute(
                    update(AttemptCounter)
                    .where(
                        AttemptCounter.key == slot.key,
                        AttemptCounter.locked_until == slot.locked_until,
                    )
                    .values(locked_until=None)
                    .execution_options(synchronize_session=False)
                )


def clear(session: Session, deps: AttemptDeps, policy: AttemptPolicy, subject: str) -> None:
    """Forget every attempt at ``subject`` (an admin reset, a changed PIN)."""
    session.execute(
        delete(AttemptCounter)
        .where(AttemptCounter.key == _digest(deps, policy, subject))
        .execution_options(synchronize_session=False)
    )


def retry_after(
    session: Session, clock: Clock, deps: AttemptDeps, policy: AttemptPolicy, subject: str
) -> float:
    """Seconds until ``subject`` may be tried again (0 when it may now); for tests and tools."""
    row = session.get(AttemptCounter, _digest(deps, policy, subject), populate_existing=True)
    if row is None or row.locked_until is None:
        return 0.0
    return max(0.0, (row.locked_until - clock.now()).total_seconds())


# --- housekeeping ---------------------------------------------------------------------------

PRUNE_JOB = "auth.attempts_prune"


def prune(session: Session, now: dt.datetime) -> int:
    """Delete the counters their policy no longer remembers (and not locked), each by its own
    policy's time, so guesses at made-up handles or emails are not kept a week."""
    result = session.execute(
        delete(AttemptCounter)
        .where(
            AttemptCounter.forget_at < now,
            or_(AttemptCounter.locked_until.is_(None), AttemptCounter.locked_until <= now),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
