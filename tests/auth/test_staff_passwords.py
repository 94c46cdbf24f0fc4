"""Staff password policy (length first, zxcvbn, own details, no composition rules) and
rehashing on login."""

from __future__ import annotations

import secrets
import string

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from auth import passwords
from core.crypto import SecretHasher
from core.errors import InvalidInput
from core.runtime import Runtime
from tests.auth.factories_staff import login_ticket, make_member

EMAIL = "rosalind.franklin@lantern.test"
NAME = "Rosalind Franklin"


def _refusal(password: str) -> str:
    with pytest.raises(InvalidInput) as info:
        passwords.check_policy(password, email=EMAIL, display_name=NAME)
    messages: list[str] = info.value.extra["errors"]["password"]
    return messages[0]


class _Spy:
    """Counts calls of the expensive steps that must never see a refused length."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hasher: SecretHasher) -> None:
        self.hashed = 0
        self.scored = 0
        real_hash, real_score = hasher.hash, passwords.zxcvbn

        def hash_spy(secret: str) -> str:
            self.hashed += 1
            return real_hash(secret)

        def score_spy(*args: object, **kwargs: object) -> dict[str, object]:
            self.scored += 1
            return real_score(*args, **kwargs)  # type: ignore[no-any-return]

        monkeypatch.setattr(hasher, "hash", hash_spy)
        monkeypatch.setattr(passwords, "zxcvbn", score_spy)


def test_eleven_characters_are_too_few(
    monkeypatch: pytest.MonkeyPatch, fast_hasher: SecretHasher
) -> None:
    spy = _Spy(monkeypatch, fast_hasher)
    with pytest.raises(InvalidInput):
        passwords.hash_new_password(fast_hasher, "kQ7#mZ2!pL9", email=EMAIL, display_name=NAME)
    assert (spy.hashed, spy.scored) == (0, 0)
    assert "at least 12" in _refusal("kQ7#mZ2!pL9")


def test_129_characters_are_refused_before_any_hashing(
    monkeypatch: pytest.MonkeyPatch, fast_hasher: SecretHasher
) -> None:
    spy = _Spy(monkeypatch, fast_hasher)
    huge = "".join(secrets.choice(string.ascii_letters) for _ in range(129))
    with pytest.raises(InvalidInput) as info:
        passwords.hash_new_password(fast_hasher, huge, email=EMAIL, display_name=NAME)
    assert "at most 128" in info.value.extra["errors"]["password"][0]
    assert (spy.hashed, spy.scored) == (0, 0)


def test_length_bounds_themselves_are_allowed(
    monkeypatch: pytest.MonkeyPatch, fast_hasher: SecretHasher
) -> None:
    spy = _Spy(monkeypatch, fast_hasher)
    for password in (
        "kQ7#mZ2!pL9@",
        "".join(secrets.choice(string.ascii_letters) for _ in range(128)),
    ):
        stored = passwords.hash_new_password(fast_hasher, password, email=EMAIL, display_name=NAME)
        assert fast_hasher.verify(stored, password)
    assert (spy.hashed, spy.scored) == (2, 2)


def test_weak_passwords_are_refused() -> None:
    assert "common" in _refusal("password1234")
    _refusal("aaaaaaaaaaaaaaaa")
    _refusal("qwertyuiop123")


def test_own_details_are_refused() -> None:
    assert "name or email" in _refusal("Rosalind.Franklin-orbit-kettle")  # email local part
    assert "name or email" in _refusal("violet harbour FRANKLIN 77")  # a name part
    assert "name or email" in _refusal("ROSALIND.FRANKLIN")


def test_no_composition_rules() -> None:
    # All lower case, no digits or symbols: fine when long and unguessable.
    passwords.check_policy("violet harbour kettle quantum", email=EMAIL, display_name=NAME)


def test_short_name_parts_do_not_forbid_common_words() -> None:
    # "Al" is too short to count as the person's detail.
    passwords.check_policy(
        "always harbour kettle quantum", email="al@lantern.test", display_name="Al Li"
    )


def test_login_rehashes_when_the_parameters_changed(
    client: FlaskClient, db_session: Session, runtime: Runtime
) -> None:
    old_hasher = SecretHasher(time_cost=2, memory_kib=16, parallelism=1)
    staff = make_member(
        db_session, runtime, password_hash=old_hasher.hash("violet harbour kettle quantum 7")
    )
    old_hash = staff.member.password_hash
    assert runtime.hasher.needs_rehash(old_hash)
    login_ticket(client, staff)
    db_session.refresh(staff.member)
    new_hash = staff.member.password_hash
    assert new_hash != old_hash
    assert not runtime.hasher.needs_rehash(new_hash)
    assert runtime.hasher.verify(new_hash, staff.password)
    # A failed login never rehashes.
    client.post("/v1/staff/login", json={"email": staff.email, "password": "wrong password!!"})
    db_session.refresh(staff.member)
    assert staff.member.password_hash == new_hash


def test_current_hashes_are_not_rewritten(
    client: FlaskClient, db_session: Session, runtime: Runtime
) -> None:
    staff = make_member(db_session, runtime)
    before = staff.member.password_hash
    login_ticket(client, staff)
    db_session.refresh(staff.member)
    assert staff.member.password_hash == before
