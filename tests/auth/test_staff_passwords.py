"""Staff password policy (length first, zxcvbn, own details, no composition rules) and
rehashing on login."""

from __future__ import annotations

import secrets
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn as real_score
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from auth.staff import passwords
from core.clock import FrozenClock
from core.crypto import SecretHasher
from core.errors import InvalidInput
from core.runtime import Runtime
from tests.auth.factories_staff import login, login_ticket, make_member, post
from tests.json_client import JsonClient

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
        real_hash = hasher.hash

        def hash_spy(secret: str) -> str:
            self.hashed += 1
            return real_hash(secret)

        def score_spy(*args: object, **kwargs: object) -> dict[str, object]:
            self.scored += 1
            result: dict[str, object] = real_score(*args, **kwargs)  # zxcvbn has no types
            return result

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


SPRAYED = (
    # The three the outside test found, and their obvious variants.
    "Summer2026!!", "SUMMER2026!!", "!!Summer2026", "summer 2026 !!", "Summer2026Summer2026",
    "$umm3r2026!!", "Summer-Summer-2026", "Autumn2025!!!", "Winter2027###",
    "Password123!", "P@ssw0rd123!", "PASSWORD123456", "Passw0rd2026!", "password-password",
    "Welcome2026!!", "Football1234!", "Iloveyou2026!", "Qwerty123456!",
)  # fmt: skip
SERVICE_NAME = (
    "lantern-lantern", "LanternLantern", "Lantern2026!!", "L4nt3rn-2026!!", "lantern lantern 1",
    "Lantern2026!Lantern2026!", "2026-LANTERN-2026",
)  # fmt: skip


@pytest.mark.parametrize("password", SPRAYED)
def test_sprayed_passwords_are_refused_however_decorated(password: str) -> None:
    assert "lists of common or leaked passwords" in _refusal(password)


@pytest.mark.parametrize("password", SERVICE_NAME)
def test_the_service_name_decorated_is_refused(password: str) -> None:
    assert "name of this service" in _refusal(password)


def test_a_common_word_after_the_service_name_is_still_refused() -> None:
    assert "common or leaked" in _refusal("Lantern-Summer-2026")


@pytest.mark.parametrize(
    "password",
    [
        "violet harbour kettle quantum",
        "plum tractor velvet echo",
        "Mountain lanterns glow softly at dusk",  # the service's name inside a passphrase
        "correct horse battery staple",
        "kQ7#mZ2!pL9@",
        "Tr0ub4dor&3-orbit",
        "Lantern-" + "x7Qp2Lm9Zr4TbW1c",  # the test stacks' generated passwords
    ],
)
def test_strong_passphrases_still_pass(password: str) -> None:
    passwords.check_policy(password, email=EMAIL, display_name=NAME)


def test_random_strong_passwords_pass() -> None:
    for _ in range(50):
        password = secrets.token_urlsafe(18)
        passwords.check_policy(password, email=EMAIL, display_name=NAME)


@settings(max_examples=200, deadline=None)
@given(
    word=st.sampled_from(sorted(w for w in FREQUENCY_LISTS["passwords"][:2000] if w.isalpha())),
    upper=st.sampled_from(["lower", "title", "upper"]),
    year=st.integers(1950, 2099),
    symbols=st.text(alphabet="!@#$%&*?.-_ ", max_size=4),
    before=st.booleans(),
)
def test_any_top_password_with_a_year_and_symbols_is_refused(
    word: str, upper: str, year: int, symbols: str, before: bool
) -> None:
    from auth.staff.common_passwords import refusal

    cased = {"lower": word, "title": word.title(), "upper": word.upper()}[upper]
    decorated = f"{symbols}{year}{cased}" if before else f"{cased}{year}{symbols}"
    assert refusal(decorated) is not None, decorated


@pytest.mark.parametrize("password", ["\ud800" * 12, "\x00" * 12, "\U0001f600" * 12, "é" * 128])
def test_strange_characters_are_judged_not_crashed_on(password: str) -> None:
    with pytest.raises(InvalidInput):
        passwords.check_policy(password, email=EMAIL, display_name=NAME)


def test_the_api_refuses_a_sprayed_password_with_a_clear_problem(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = make_member(db_session, runtime, role="admin")
    token = login(client, admin, clock)
    body = {"email": "new.person@lantern.test", "role": "advocate", "display_name": "Sam Okafor"}
    invitation = post(client, "/v1/admin/invitations", body, token).json["invitation_token"]
    for password in ("Summer2026!!", "Password123!", "lantern-lantern"):
        r = post(
            client,
            "/v1/staff/invitations/accept",
            {"invitation_token": invitation, "password": password},
        )
        assert r.status_code == 422, (password, r.json)
        assert r.mimetype == "application/problem+json"
        assert r.json["errors"]["password"][0].startswith(
            ("This password is on lists", "Do not build your password")
        )
    accepted = post(
        client,
        "/v1/staff/invitations/accept",
        {"invitation_token": invitation, "password": "plum tractor velvet echo"},
    )
    assert accepted.status_code == 201, accepted.json


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
    client: JsonClient, db_session: Session, runtime: Runtime
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
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    staff = make_member(db_session, runtime)
    before = staff.member.password_hash
    login_ticket(client, staff)
    db_session.refresh(staff.member)
    assert staff.member.password_hash == before
