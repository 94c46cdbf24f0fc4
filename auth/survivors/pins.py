"""Survivor PINs and passphrases: the policy, and changing the PIN or the duress PIN.

A PIN is at least 6 digits; anything that is not all digits is a passphrase of at least 12
characters. Both are at most 128 characters, checked before hashing (argon2 of an unbounded
input is a denial of service). Trivially guessable PINs (one digit repeated, runs such as
123456, short repeating patterns, the commonest PINs) are refused: an abuser who guesses them
needs no force.

Every PIN is NFKC-normalised before it is hashed or verified, so that the same PIN typed on two
different keyboards (full-width digits, composed accents) is the same PIN.

A decoy (duress) session is a session of the decoy account (``auth.survivors.decoys``), whose PIN is
the duress PIN: every rule answers and acts exactly as it would in a real account, on the decoy.
"""

from __future__ import annotations

import datetime as dt
import itertools
import unicodedata
import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from auth import attempts
from auth.access.permissions import advocates_of
from auth.deps import AuthDeps
from auth.principals import SurvivorPrincipal
from auth.survivors import decoys
from auth.survivors.models import Survivor, SurvivorDevice
from core import audit
from core.clock import Clock
from core.crypto import SecretHasher
from core.errors import InvalidInput, LanternError, NotAuthenticated
from core.notices import notify_staff

MIN_PIN_DIGITS = 6
MIN_PASSPHRASE = 12
MAX_PIN = 128

# The commonest 6-digit PINs beyond what the pattern rules below already catch (from published
# analyses of leaked PIN sets: keypad shapes, doubled pairs, dates people reach for).
_COMMON_PINS = frozenset(
    {
        "123123",
        "123321",
        "112233",
        "121212",
        "159753",
        "147258",
        "258369",
        "369258",
        "147852",
        "741852",
        "963852",
        "852456",
        "789456",
        "456789",
        "102030",
        "101010",
        "202020",
        "696969",
        "520520",
        "142536",
        "110110",
        "100200",
        "159357",
        "753951",
        "987654",
    }
)

_POLICY_MESSAGE = (
    f"Use at least {MIN_PIN_DIGITS} digits that are not easy to guess, or a passphrase of at "
    f"least {MIN_PASSPHRASE} characters."
)


class PinIncorrect(LanternError):
    """The current PIN given to change a setting is not right (or attempts are throttled)."""

    status = 403
    type_slug = "pin-incorrect"
    title = "PIN not accepted"
    keep_changes = True
    uniform_body = True


def normalize_pin(pin: str) -> str:
    return unicodedata.normalize("NFKC", pin)


def _is_run(digits: str) -> bool:
    """123456, 654321, 890123...: every step +1 or every step -1 (mod 10)."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return steps in ({1}, {9})


def _is_short_pattern(digits: str) -> bool:
    """121212, 123123, 112112: a pattern of at most 3 digits repeated."""
    for period in (1, 2, 3):
        if len(digits) > period and all(
            digits[i] == digits[i % period] for i in range(len(digits))
        ):
            return True
    return False


def pin_problem(pin: str) -> str | None:
    """Why ``pin`` is refused as a new PIN, or None when it is acceptable."""
    pin = normalize_pin(pin)
    if len(pin) > MAX_PIN:
        return f"At most {MAX_PIN} characters."
    if pin.isascii() and pin.isdigit():
        if len(pin) < MIN_PIN_DIGITS:
            return _POLICY_MESSAGE
        if len(set(pin)) <= 2 or _is_run(pin) or _is_short_pattern(pin) or pin in _COMMON_PINS:
            return _POLICY_MESSAGE
        return None
    if len(pin) < MIN_PASSPHRASE or not pin.strip():
        return _POLICY_MESSAGE
    # A passphrase of one or two characters repeated ("aaaaaaaaaaaa") is no passphrase.
    if len(set(pin.casefold())) <= 3:
        return _POLICY_MESSAGE
    return None


def check_new_pin(pin: str, field: str) -> str:
    """The normalised PIN, or InvalidInput naming ``field``."""
    problem = pin_problem(pin)
    if problem is not None:
        raise InvalidInput("The PIN is too easy to guess.", errors={field: [problem]})
    return normalize_pin(pin)


def hash_pin(hasher: SecretHasher, pin: str) -> str:
    return hasher.hash(normalize_pin(pin))


def verify_pin(hasher: SecretHasher, stored_hash: str | None, pin: str) -> bool:
    """argon2 verify; with no stored hash it burns the same time and fails."""
    return hasher.verify(stored_hash, normalize_pin(pin))


# The advocates hear of PIN guessing at every NOTIFY_EVERY-th wrong PIN in a row (at login or
# in a session; the lock itself is ``attempts.SURVIVOR_PIN``).
NOTIFY_EVERY = 5


def pin_subjects(account_subject: str) -> list[tuple[attempts.AttemptPolicy, str]]:
    """What a guess at an account's PIN is counted under, at login and in a session alike."""
    return [
        (attempts.SURVIVOR_PIN, account_subject),
        (attempts.SURVIVOR_PIN_BACKSTOP, account_subject),
    ]


def note_wrong_pin(session: Session, clock: Clock, owner_id: uuid.UUID, attempt: int) -> None:
    """Tell the owner's advocates when guessing goes on: every ``NOTIFY_EVERY``-th wrong PIN
    since the real PIN was last given (duress logins between them do not reset it)."""
    if attempt % NOTIFY_EVERY == 0:
        notify_staff(
            session,
            clock,
            advocates_of(session, owner_id),
            "pin_guessing",
            urgency="high",
            survivor_id=owner_id,
            details={"failures": attempt},
        )


def _check_current_pin(
    session: Session, principal: SurvivorPrincipal, clock: Clock, deps: AuthDeps, current_pin: str
) -> Survivor:
    """The session's account, when ``current_pin`` is the PIN that opens it.

    A decoy session's account is its decoy account, whose PIN is the duress PIN it was opened
    with. Every check takes a slot of the real owner's PIN allowance first (``auth.attempts``),
    the same one login uses, so a live session cannot be used to guess the real PIN quickly,
    and guesses made in a decoy lock the account exactly as they would in a real one.
    """
    account = session.get(Survivor, principal.survivor_id)
    if account is None:
        raise NotAuthenticated()
    owner = decoys.owner_of(session, account)
    taken = attempts.take(session, clock, deps.attempts, pin_subjects(f"survivor:{owner.id}"))
    ok = verify_pin(deps.hasher, account.pin_hash if taken else None, current_pin)
    if taken is None or not ok:
        if taken is not None:
            attempt = taken.number(attempts.SURVIVOR_PIN_BACKSTOP)
            note_wrong_pin(session, clock, owner.id, attempt)
        raise PinIncorrect("The current PIN is not right.")
    # In a decoy, the backstop count of guesses at the real PIN stays (see login).
    attempts.succeeded(session, deps.attempts, taken, proves_owner=account.decoy_of is None)
    return account


def _end_other_devices(
    session: Session, survivor_id: uuid.UUID, keep: uuid.UUID | None, now: dt.datetime, reason: str
) -> None:
    conditions = [SurvivorDevice.survivor_id == survivor_id, SurvivorDevice.revoked_at.is_(None)]
    if keep is not None:
        conditions.append(SurvivorDevice.id != keep)
    session.execute(
        update(SurvivorDevice)
        .where(*conditions)
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def change_pin(
    session: Session,
    principal: SurvivorPrincipal,
    clock: Clock,
    deps: AuthDeps,
    *,
    current_pin: str,
    new_pin: str,
) -> None:
    """Change the PIN; other device sessions end (whoever else knew the PIN is logged out).

    In a decoy session this changes the decoy's PIN, which is the owner's duress PIN: from then
    on the new PIN opens the decoy, as it would open a real account, and the real PIN is
    untouched. The owner's advocates are told, since her own duress PIN no longer works.
    """
    account = _check_current_pin(session, principal, clock, deps, current_pin)
    new = check_new_pin(new_pin, "new_pin")
    # Counted whether it succeeds or not (and never given back), per account, in real and
    # decoy accounts alike: the comparison below would otherwise let whoever forced the real
    # PIN try PIN after PIN until "must differ from your duress PIN" gave the duress PIN away.
    attempts.take(session, clock, deps.attempts, [(attempts.PIN_CHANGES, f"survivor:{account.id}")])
    owner = decoys.owner_of(session, account)
    decoy = decoys.decoy_account(session, account.id)
    # Always one verify, against a dummy when there is no duress PIN: the time taken must not
    # tell whoever holds this session whether a duress PIN exists.
    if verify_pin(deps.hasher, decoy.pin_hash if decoy else None, new):
        raise InvalidInput(
            "The PIN must differ from the duress PIN.",
            errors={"new_pin": ["Must differ from your duress PIN."]},
        )
    # And always a second: in a decoy, whether the new PIN is also the real PIN (which it may
    # be: refusing it would tell the person at the phone the real PIN). Only staff learn it.
    real_hash = owner.pin_hash if account.decoy_of is not None else None
    is_real_pin = verify_pin(deps.hasher, real_hash, new)
    now = clock.now()
    account.pin_hash = hash_pin(deps.hasher, new)
    _end_other_devices(session, account.id, principal.device_id, now, "pin_changed")
    audit.record(
        session,
        clock,
        principal.actor,
        "survivor.pin_changed",
        subject_kind="survivor",
        subject_id=account.id,
        survivor_id=account.id,
    )
    if account.decoy_of is not None:
        # The survivor's duress PIN no longer works; if the new one is her real PIN, her real
        # PIN now opens the decoy (``sessions._match``) and she needs her advocate.
        notify_staff(
            session,
            clock,
            advocates_of(session, owner.id),
            "duress_pin_changed_in_decoy",
            urgency="urgent",
            survivor_id=owner.id,
            details={"real_pin_opens_decoy": True} if is_real_pin else {},
        )


def set_duress_pin(
    session: Session,
    principal: SurvivorPrincipal,
    clock: Clock,
    deps: AuthDeps,
    *,
    current_pin: str,
    duress_pin: str | None,
) -> None:
    """Set (or, with None, remove) the duress PIN: the PIN of this account's decoy account.

    Sessions opened with the old duress PIN end. Audited against the device only (no survivor
    id, system actor): the survivor's own access log lists events by survivor id, and must never
    show someone who forced the real PIN that a duress PIN exists.
    """
    account = _check_current_pin(session, principal, clock, deps, current_pin)
    new: str | None = None
    if duress_pin is not None:
        new = check_new_pin(duress_pin, "duress_pin")
        if new == normalize_pin(current_pin):
            raise InvalidInput(
                "The duress PIN must differ from the PIN.",
                errors={"duress_pin": ["Must differ from your PIN."]},
            )
    decoy = (
        decoys.ensure_decoy(session, clock, account)
        if new is not None
        else decoys.decoy_account(session, account.id)
    )
    if decoy is not None:
        decoy.pin_hash = hash_pin(deps.hasher, new) if new is not None else None
        _end_other_devices(session, decoy.id, None, clock.now(), "duress_pin_changed")
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "survivor.duress_pin_set" if new is not None else "survivor.duress_pin_removed",
        subject_kind="survivor_device",
        subject_id=principal.device_id,
    )
