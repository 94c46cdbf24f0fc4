"""Staff password policy and hashing.

The policy follows NIST SP 800-63B: a length window (checked before anything else touches the
password, so a huge input costs nothing), no passwords built from the person's own details, no
common or leaked password however decorated (``common_passwords``: ``Summer2026!!``), a
strength estimate (zxcvbn score 3 or more), and no composition rules.
"""

from __future__ import annotations

import re
import threading

from zxcvbn import zxcvbn

from auth.staff import common_passwords
from auth.staff.models import StaffMember
from core.clock import Clock
from core.crypto import SecretHasher
from core.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3
# Parts of a name or email shorter than this are too common to refuse ("al", "jo").
_MIN_DETAIL = 3

# zxcvbn stores the user inputs in a module-level dictionary while it scores, so two threads
# scoring at once could judge one person's password against another person's details.
_ZXCVBN_LOCK = threading.Lock()


def _refuse(message: str) -> InvalidInput:
    return InvalidInput("The password does not meet the policy.", errors={"password": [message]})


def personal_details(email: str, display_name: str) -> list[str]:
    """The pieces of a person's identity a password must not contain (lower-case)."""
    local = email.split("@", 1)[0].lower()
    parts = [local, *re.split(r"[^\w]+", local)]
    parts += [p.lower() for p in re.split(r"[^\w]+", display_name)]
    return sorted({p for p in parts if len(p) >= _MIN_DETAIL})


def check_policy(password: str, *, email: str, display_name: str) -> None:
    """Raise InvalidInput (field ``password``) when ``password`` may not be used."""
    # Length first: nothing below (zxcvbn, argon2) may see an unbounded input.
    if len(password) < MIN_LENGTH:
        raise _refuse(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise _refuse(f"Use at most {MAX_LENGTH} characters.")
    details = personal_details(email, display_name)
    lowered = password.lower()
    if any(detail in lowered for detail in details):
        raise _refuse("Do not use your name or email address in your password.")
    common = common_passwords.refusal(password, details)
    if common is not None:
        raise _refuse(f"{common} Try a longer phrase of unrelated words.")
    with _ZXCVBN_LOCK:
        result = zxcvbn(password, user_inputs=details, max_length=MAX_LENGTH)
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or "This password is too easy to guess."
        raise _refuse(f"{warning} Try a longer phrase of unrelated words.")


def hash_new_password(hasher: SecretHasher, password: str, *, email: str, display_name: str) -> str:
    """The stored hash of a new password, after the policy accepted it."""
    check_policy(password, email=email, display_name=display_name)
    return hasher.hash(password)


def verify_login_password(hasher: SecretHasher, member: StaffMember | None, password: str) -> bool:
    """Check a password; unknown members cost the same (dummy hash). Rehashes on success
    when the hasher's parameters have changed since the hash was made."""
    if member is None:
        hasher.verify(None, password)
        return False
    if not hasher.verify(member.password_hash, password):
        return False
    if hasher.needs_rehash(member.password_hash):
        member.password_hash = hasher.hash(password)
    return True


def set_password(hasher: SecretHasher, member: StaffMember, password: str, clock: Clock) -> None:
    """Give ``member`` a new password (policy checked before hashing)."""
    member.password_hash = hash_new_password(
        hasher, password, email=member.email, display_name=member.display_name
    )
    member.password_changed_at = clock.now()
