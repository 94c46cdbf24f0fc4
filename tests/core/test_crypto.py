"""core.crypto: envelope encryption, key ring, blind indexes, phone numbers, secret hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import stat
import uuid
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core import crypto, keyfiles
from core.clock import FrozenClock
from core.crypto import Binding, KeyRing
from core.errors import ConfigurationError, CryptoError, InvalidInput
from core.settings import Settings, load_settings
from core.vault import Vault

# --- strategies -----------------------------------------------------------------------------

# Table and column names are code identifiers; "|" is the associated data's separator.
names = st.text(
    alphabet=st.characters(blacklist_characters="|", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=20,
)
row_ids = st.one_of(st.uuids(), names)
bindings = st.builds(Binding, table=names, column=names, row_id=row_ids, owner_id=st.uuids())
plaintexts = st.binary(max_size=2048)
keys = st.binary(min_size=32, max_size=32)

# Every property test below sets deadline=None: the suite runs on busy two-core CI machines,
# where a per-example timer fails for reasons unrelated to the code; example counts bound time.

HEADER = 1 + 16  # version byte + data key id
NONCE = slice(HEADER, HEADER + crypto.NONCE_BYTES)


def _binding(**changes: Any) -> Binding:
    values: dict[str, Any] = {
        "table": "journal_entries",
        "column": "body",
        "row_id": uuid.UUID(int=1),
        "owner_id": uuid.UUID(int=2),
    }
    values.update(changes)
    return Binding(**values)


# --- seal / unseal --------------------------------------------------------------------------


@given(dek=keys, binding=bindings, plaintext=plaintexts)
@settings(deadline=None)
def test_seal_unseal_round_trip(dek: bytes, binding: Binding, plaintext: bytes) -> None:
    dek_id = uuid.uuid4()
    ciphertext = crypto.seal(dek_id, dek, binding, plaintext)
    assert crypto.ciphertext_dek_id(ciphertext) == dek_id
    assert crypto.unseal(dek, binding, ciphertext) == plaintext
    # Random nonce: sealing the same thing twice never gives the same bytes.
    assert crypto.seal(dek_id, dek, binding, plaintext) != ciphertext
    if len(plaintext) >= 8:
        assert plaintext not in ciphertext


@given(
    binding=bindings,
    part=st.sampled_from(["table", "column", "row_id", "owner_id"]),
    other_name=names,
    other_uuid=st.uuids(),
    plaintext=plaintexts,
)
@settings(deadline=None)
def test_ciphertext_moved_to_another_place_fails(
    binding: Binding,
    part: str,
    other_name: str,
    other_uuid: uuid.UUID,
    plaintext: bytes,
) -> None:
    dek = crypto.random_key()
    ciphertext = crypto.seal(uuid.uuid4(), dek, binding, plaintext)
    new_value: object = other_uuid if part in {"row_id", "owner_id"} else other_name
    moved = Binding(**{**binding.__dict__, part: new_value})
    assume(moved.associated_data() != binding.associated_data())
    with pytest.raises(CryptoError):
        crypto.unseal(dek, moved, ciphertext)


@given(plaintext=plaintexts, data=st.data())
@settings(deadline=None)
def test_any_flipped_byte_fails(plaintext: bytes, data: st.DataObject) -> None:
    dek = crypto.random_key()
    binding = _binding()
    ciphertext = crypto.seal(uuid.uuid4(), dek, binding, plaintext)
    index = data.draw(st.integers(0, len(ciphertext) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(ciphertext)
    tampered[index] ^= mask
    with pytest.raises(CryptoError):
        crypto.unseal(dek, binding, bytes(tampered))


def test_every_single_byte_flip_of_one_ciphertext_fails() -> None:
    # The exhaustive companion of the property above: every position, every bit.
    dek = crypto.random_key()
    binding = _binding()
    ciphertext = crypto.seal(uuid.uuid4(), dek, binding, b"safe word: lantern")
    for index in range(len(ciphertext)):
        for bit in range(8):
            tampered = bytearray(ciphertext)
            tampered[index] ^= 1 << bit
            with pytest.raises(CryptoError):
                crypto.unseal(dek, binding, bytes(tampered))


def test_truncated_or_foreign_ciphertexts_fail() -> None:
    dek = crypto.random_key()
    binding = _binding()
    ciphertext = crypto.seal(uuid.uuid4(), dek, binding, b"x")
    for cut in (0, 1, HEADER, HEADER + crypto.NONCE_BYTES, len(ciphertext) - 1):
        with pytest.raises(CryptoError):
            crypto.unseal(dek, binding, ciphertext[:cut])
    with pytest.raises(CryptoError):
        crypto.unseal(crypto.random_key(), binding, ciphertext)  # another key


def test_a_hundred_thousand_encryptions_never_repeat_a_nonce() -> None:
    # AES-GCM's one fatal mistake is a repeated nonce under one key. 2^-96 per pair: any repeat
    # here means the nonce is not fresh randomness (a counter reset, a fixed seed).
    dek, dek_id, binding = crypto.random_key(), uuid.uuid4(), _binding()
    seal = crypto.seal
    nonces = {seal(dek_id, dek, binding, b"")[NONCE] for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_binding_refuses_ambiguous_parts() -> None:
    # With "|" allowed, ("a|b", "c") and ("a", "b|c") would share one associated data.
    for changes in ({"table": "a|b"}, {"column": "b|c"}, {"row_id": "1|2"}, {"table": ""}):
        with pytest.raises(ValueError, match="binding"):
            _binding(**changes)
    with pytest.raises(TypeError):
        _binding(owner_id=str(uuid.uuid4()))


@given(dek=keys, owner=st.uuids(), other=st.uuids())
@settings(max_examples=50, deadline=None)
def test_data_key_wrap_is_bound_to_owner_and_kek(
    dek: bytes, owner: uuid.UUID, other: uuid.UUID
) -> None:
    assume(owner != other)
    ring = KeyRing.generate("k1").with_new_primary("k2")
    kek_id, wrapped = crypto.wrap_data_key(ring, owner, dek)
    assert kek_id == "k2"
    assert crypto.unwrap_data_key(ring, owner, kek_id, wrapped) == dek
    with pytest.raises(CryptoError):
        crypto.unwrap_data_key(ring, other, kek_id, wrapped)
    with pytest.raises(CryptoError):
        crypto.unwrap_data_key(ring, owner, "k1", wrapped)


# Places outside a survivor's data key: no owner (purpose keys), or no column (files).
key_bindings = st.one_of(
    bindings,
    st.builds(Binding, table=names, column=names, row_id=row_ids),
    st.builds(Binding.blob, kind=names, row_id=st.uuids(), owner_id=st.uuids()),
)


@given(key=keys, plaintext=plaintexts, binding=key_bindings, other=key_bindings)
@settings(max_examples=50, deadline=None)
def test_sealing_with_a_key_of_its_own_is_bound_to_its_place(
    key: bytes, plaintext: bytes, binding: Binding, other: Binding
) -> None:
    ciphertext = crypto.seal_with_key(key, binding, plaintext)
    assert crypto.open_with_key(key, binding, ciphertext) == plaintext
    assume(other.associated_data() != binding.associated_data())
    with pytest.raises(CryptoError):
        crypto.open_with_key(key, other, ciphertext)


def test_associated_data_leaves_out_the_parts_a_place_does_not_have() -> None:
    row, owner = uuid.UUID(int=1), uuid.UUID(int=2)
    assert Binding("t", "c", row, owner).associated_data() == f"t|c|{row}|{owner}".encode()
    assert Binding("t", "c", row).associated_data() == f"t|c|{row}".encode()
    assert Binding.blob("t", row, owner).associated_data() == f"t|{row}|{owner}".encode()
    for bad in ("", "a|b"):
        with pytest.raises(ValueError, match="binding parts"):
            Binding("t", bad, row)


def test_the_vault_seals_only_what_names_its_owner(db_session: Session) -> None:
    vault = Vault(KeyRing.generate(), FrozenClock())
    with pytest.raises(TypeError, match="owner_id"):
        vault.seal(db_session, Binding("t", "c", uuid.uuid4()), "x")


# --- Vault.seal / Vault.open (database) -------------------------------------------------------


@given(binding=bindings, plaintext=plaintexts)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_vault_round_trip(
    db_session: Session, keyring: KeyRing, binding: Binding, plaintext: bytes
) -> None:
    vault = Vault(keyring, FrozenClock())
    ciphertext = vault.seal(db_session, binding, plaintext)
    assert vault.open(db_session, binding, ciphertext) == plaintext
    # A fresh vault (no cached key) unwraps the stored data key and agrees.
    db_session.info.clear()
    assert Vault(keyring, FrozenClock()).open(db_session, binding, ciphertext) == plaintext


@given(text=st.text(max_size=200))
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_vault_text_round_trip(db_session: Session, keyring: KeyRing, text: str) -> None:
    vault = Vault(keyring, FrozenClock())
    binding = _binding(owner_id=uuid.uuid4())
    assert vault.open_text(db_session, binding, vault.seal(db_session, binding, text)) == text


def test_vault_refuses_moved_or_flipped_ciphertexts(db_session: Session, keyring: KeyRing) -> None:
    vault = Vault(keyring, FrozenClock())
    alice, bob = uuid.uuid4(), uuid.uuid4()
    binding = _binding(owner_id=alice)
    ciphertext = vault.seal(db_session, binding, b"the spare key is under the pot")
    vault.ensure_key(db_session, bob)
    moves = [
        _binding(owner_id=alice, row_id=uuid.uuid4()),
        _binding(owner_id=alice, column="title"),
        _binding(owner_id=alice, table="safety_plans"),
        _binding(owner_id=bob),  # another owner: another data key altogether
    ]
    for moved in moves:
        with pytest.raises(CryptoError):
            vault.open(db_session, moved, ciphertext)
    for index in range(len(ciphertext)):
        tampered = bytearray(ciphertext)
        tampered[index] ^= 0x01
        with pytest.raises(CryptoError):
            vault.open(db_session, binding, bytes(tampered))


# --- key ring -------------------------------------------------------------------------------


def test_keyring_validation() -> None:
    k1, k2, idx = crypto.random_key(), crypto.random_key(), crypto.random_key()
    assert KeyRing(keks=(("a", k1), ("b", k2)), index_key=idx).primary_id == "a"
    bad: list[tuple[tuple[tuple[str, bytes], ...], bytes]] = [
        ((), idx),  # no KEK
        ((("a", k1), ("a", k2)), idx),  # ids not unique
        ((("a", k1[:31]),), idx),  # 31 bytes
        ((("a", k1 + b"x"),), idx),  # 33 bytes
        ((("a", k1),), idx[:16]),  # short index key
        ((("a", k1),), k1),  # index key equals a KEK
        ((("a", k1), ("b", k2)), k2),  # ... any KEK
        ((("a", k1), ("b", k1)), idx),  # one key under two ids
        ((("", k1),), idx),  # empty id
        ((("a:b", k1),), idx),  # separator of LANTERN_KEKS in an id
        ((("a,b", k1),), idx),
        ((("x" * 65, k1),), idx),  # id too long
    ]
    for keks, index_key in bad:
        with pytest.raises(ConfigurationError):
            KeyRing(keks=keks, index_key=index_key)


def test_keyring_repr_shows_ids_not_keys() -> None:
    ring = KeyRing.generate("k1")
    text = repr(ring) + str(ring)
    assert "k1" in text
    for _, key in ring.keks:
        assert crypto.b64encode(key) not in text
        assert repr(key) not in text
    assert repr(ring.index_key) not in text


def test_keyring_json_round_trip_and_bad_files() -> None:
    ring = KeyRing.generate("k1").with_new_primary("k2")
    again = KeyRing.from_json(ring.to_json())
    assert again == ring
    assert again.primary_id == "k2"
    for text in ("", "[]", "{}", '{"keks": [{"id": "a"}], "index_key": "x"}', "not json"):
        with pytest.raises(ConfigurationError):
            KeyRing.from_json(text)


def test_new_primary_and_retiring() -> None:
    ring = KeyRing.generate("k1")
    rotated = ring.with_new_primary("k2")
    assert [kid for kid, _ in rotated.keks] == ["k2", "k1"]
    assert rotated.kek("k1") == ring.kek("k1")
    assert rotated.index_key == ring.index_key
    retired = rotated.without("k1")
    assert [kid for kid, _ in retired.keks] == ["k2"]
    with pytest.raises(CryptoError):
        retired.kek("k1")
    with pytest.raises(ConfigurationError):
        rotated.without("k2")  # the primary
    with pytest.raises(CryptoError):
        rotated.without("nope")


@given(value=st.text(max_size=100), p1=st.text(max_size=20), p2=st.text(max_size=20))
@settings(max_examples=50, deadline=None)
def test_keyed_digest_is_deterministic_and_purpose_separated(value: str, p1: str, p2: str) -> None:
    assume(p1 != p2)
    ring = _FIXED_RING
    digest = ring.keyed_digest(p1, value)
    assert len(digest) == 64
    # Lower-case hex of an HMAC-SHA256 under the purpose's own key, recomputable by nobody else.
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    expected = hmac.new(ring.purpose_key(p1), value.encode(), hashlib.sha256).hexdigest()
    assert digest == expected
    assert ring.keyed_digest(p1, value) == digest
    assert ring.keyed_digest(p1, value.encode()) == digest  # str and its UTF-8 agree
    assert ring.keyed_digest(p2, value) != digest
    # Keyed: another index key gives another digest, and it is no plain hash of the value.
    assert _OTHER_RING.keyed_digest(p1, value) != digest
    assert hashlib.sha256(value.encode()).hexdigest() != digest


_FIXED_RING = KeyRing.generate("k1")
_OTHER_RING = KeyRing.generate("k1")


def test_purpose_key_is_not_the_index_key() -> None:
    ring = KeyRing.generate("k1")
    assert ring.purpose_key("phone-index") != ring.index_key
    assert ring.purpose_key("phone-index") != ring.purpose_key("pseudonym")
    assert len(ring.purpose_key("phone-index")) == 32


# --- phone numbers --------------------------------------------------------------------------

_REGIONS = ["GB", "US", "DE", "FR", "IN", "AU", "NG", "BR", "JP", "ZA"]


def _example(region: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    return number


@given(
    region=st.sampled_from(_REGIONS),
    fmt=st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
        ]
    ),
)
@settings(deadline=None)
def test_normalize_phone_gives_e164(region: str, fmt: int) -> None:
    number = _example(region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    typed = phonenumbers.format_number(number, fmt)
    assert crypto.normalize_phone(typed, region) == e164
    assert crypto.normalize_phone(e164) == e164  # idempotent, needs no region
    if fmt == phonenumbers.PhoneNumberFormat.NATIONAL:
        # A national number without a region is ambiguous: refused, not guessed.
        with pytest.raises(InvalidInput):
            crypto.normalize_phone(typed)


def _rendered(exc: InvalidInput) -> str:
    return " ".join([str(exc), exc.detail, json.dumps(exc.extra), repr(exc.args)])


def _assert_not_echoed(exc: InvalidInput, raw: str) -> None:
    # The refusal is the same whatever was typed: nothing of the input can be in it.
    with pytest.raises(InvalidInput) as reference:
        crypto.normalize_phone("no number here")
    assert _rendered(exc) == _rendered(reference.value)
    # No chained parser exception either: a traceback would print it beside ours.
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


@given(
    raw=st.text(max_size=40).filter(lambda s: any(ch.isalpha() or not ch.isprintable() for ch in s))
)
@settings(deadline=None)
def test_normalize_phone_rejects_junk_without_echoing_it(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        crypto.normalize_phone(raw, "GB")
    _assert_not_echoed(info.value, raw)


@given(raw=st.from_regex(r"\+?[0-9 ()\-.]{0,30}", fullmatch=True))
@settings(deadline=None)
def test_normalize_phone_digits_are_e164_or_refused(raw: str) -> None:
    try:
        e164 = crypto.normalize_phone(raw, "GB")
    except InvalidInput as exc:
        _assert_not_echoed(exc, raw)
        return
    assert re.fullmatch(r"\+[1-9]\d{1,14}", e164)  # the E.164 shape
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))


@pytest.mark.parametrize(
    "raw",
    [
        "+447911123ABC",  # keypad letters would become someone else's number
        "+1 800 FLOWERS",
        "+44 7911 123456 ext. 12",  # extensions are dropped by E.164: refuse instead
        "+44 7911 123456;ext=5",
        "tel:+44-7911-123456",
        "+447911123456\x00",
        "+447911123456\n",
        "\uff0b\uff14\uff14\uff17\uff19\uff11\uff11\uff11\uff12\uff13\uff14\uff15\uff16",
        "+44 7911 1234567",  # one digit too many
        "12",
        "",
        "+" + "1" * 60,
    ],
)
def test_normalize_phone_refuses(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        crypto.normalize_phone(raw, "GB")
    _assert_not_echoed(info.value, raw)


def test_phone_index() -> None:
    ring, other = KeyRing.generate("k1"), KeyRing.generate("k1")
    a = crypto.normalize_phone("+44 7911 123456")
    same = crypto.normalize_phone("07911 123456", "GB")
    b = crypto.normalize_phone("+44 7911 123457")
    index = crypto.phone_index(ring, a)
    assert index == crypto.phone_index(ring, same)  # however it was typed
    assert index != crypto.phone_index(ring, b)
    assert index != crypto.phone_index(other, a)  # keyed: useless without the index key
    assert index != ring.keyed_digest("pseudonym", a)  # its own purpose
    assert "7911" not in index
    assert len(index) == 64


# --- secret hashing -------------------------------------------------------------------------


def test_secret_hasher_verify(fast_hasher: crypto.SecretHasher) -> None:
    stored = fast_hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert fast_hasher.verify(stored, "correct horse battery staple")
    assert not fast_hasher.verify(stored, "correct horse battery stapler")
    assert not fast_hasher.verify("not a hash", "x")
    assert not fast_hasher.verify(None, "anything")
    assert fast_hasher.hash("same") != fast_hasher.hash("same")  # salted


def test_secret_hasher_unknown_user_burns_a_real_verification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # verify(None, x) must cost what a real verification costs: it verifies against the dummy.
    hasher = crypto.SecretHasher(time_cost=1, memory_kib=8, parallelism=1)
    real = hasher._hasher
    calls: list[str] = []

    class Spy:
        def verify(self, hash_: str, secret: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, secret)

    monkeypatch.setattr(hasher, "_hasher", Spy())
    assert hasher.verify(None, "guess") is False
    assert len(calls) == 1
    assert calls[0].startswith("$argon2id$")
    # The dummy is a real hash with the real parameters, so the work is the same.
    assert calls[0].split("$")[3] == real.hash("x").split("$")[3]


def test_secret_hasher_needs_rehash() -> None:
    weak = crypto.SecretHasher(time_cost=1, memory_kib=8, parallelism=1)
    strong = crypto.SecretHasher(time_cost=2, memory_kib=16, parallelism=1)
    old = weak.hash("pin 1234")
    assert strong.needs_rehash(old)
    assert not weak.needs_rehash(old)
    assert strong.verify(old, "pin 1234")  # still accepted, then rehashed by the caller


def test_secret_hasher_refuses_weak_parameters_in_production(tmp_path: Path) -> None:
    weak = load_settings({}, env="production", argon2_memory_kib=8, argon2_time_cost=1)
    with pytest.raises(ConfigurationError):
        crypto.SecretHasher.from_settings(weak)
    # Outside production the tests' fast parameters are allowed.
    assert crypto.SecretHasher.from_settings(weak.replace(env="test"))


def test_random_tokens() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        crypto.random_token(15)
    assert len(base64.urlsafe_b64decode(crypto.random_token(16) + "==")) == 16
    default = crypto.random_token()
    assert len(base64.urlsafe_b64decode(default + "=" * (-len(default) % 4))) == 32
    tokens = {crypto.random_token(16) for _ in range(20_000)}
    assert len(tokens) == 20_000
    assert crypto.token_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert crypto.constant_time_equals("abc", b"abc")
    assert not crypto.constant_time_equals("a", "b")


# --- loading keys ---------------------------------------------------------------------------


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return load_settings({}, instance_path=str(tmp_path / "instance"), **values)


def _env_keks(ring: KeyRing) -> str:
    return ",".join(f"{kid}:{crypto.b64encode(key)}" for kid, key in ring.keks)


def test_load_keyring_from_environment(tmp_path: Path) -> None:
    ring = KeyRing.generate("k1").with_new_primary("k2")
    settings = _settings(tmp_path, env="production", **keyfiles.environment_values(ring))
    assert keyfiles.load_keyring(settings) == ring
    assert not (tmp_path / "instance").exists()  # no development file on the way
    # KEKs without the audit and evidence keys are refused, naming what is missing.
    half = settings.replace(audit_keys="", evidence_keys="")
    with pytest.raises(ConfigurationError, match="LANTERN_AUDIT_KEYS and LANTERN_EVIDENCE_KEYS"):
        keyfiles.load_keyring(half)


def test_load_keyring_environment_errors_never_echo_keys(tmp_path: Path) -> None:
    ring = KeyRing.generate("k1")
    index = crypto.b64encode(ring.index_key)
    good = _env_keks(ring)
    cases = [
        {"keks": "k1:!!!not-base64!!!x", "index_key": index},
        {"keks": good, "index_key": "%%%"},
        {"keks": good.replace(":", "="), "index_key": index},
        {"keks": good + ",", "index_key": index},
        {"keks": good, "index_key": crypto.b64encode(ring.index_key[:20])},
        {"keks": good},  # half a key ring: not silently replaced by other keys
        {"index_key": index},
    ]
    for values in cases:
        with pytest.raises(ConfigurationError) as info:
            keyfiles.load_keyring(_settings(tmp_path, **values))
        message = str(info.value)
        for secret in (values.get("keks", ""), values.get("index_key", ""), index):
            for part in secret.replace(",", ":").split(":"):
                if len(part) >= 8:
                    assert part not in message
    assert not (tmp_path / "instance").exists()


def test_load_keyring_from_keys_file(tmp_path: Path) -> None:
    ring = KeyRing.generate("k1")
    path = tmp_path / "keys.json"
    keyfiles.write_keys_file(path, ring)
    assert keyfiles.load_keyring(_settings(tmp_path, env="production", keys_file=str(path))) == ring
    with pytest.raises(ConfigurationError):
        keyfiles.load_keyring(_settings(tmp_path, keys_file=str(tmp_path / "missing.json")))


def test_development_keys_are_generated_once_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, restore_umask: None
) -> None:
    os.umask(0)  # the file must be private by itself, not thanks to the umask
    settings = _settings(tmp_path, env="development")
    with caplog.at_level(logging.WARNING, logger="core.keyfiles"):
        first = keyfiles.load_keyring(settings)
    path = keyfiles.development_keys_path(settings)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("DEVELOPMENT" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="core.keyfiles"):
        assert keyfiles.load_keyring(settings) == first  # same keys next time, no new warning
    assert not caplog.records
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left over


def test_production_refuses_to_run_without_keys(tmp_path: Path) -> None:
    settings = _settings(tmp_path, env="production")
    with pytest.raises(ConfigurationError, match="production"):
        keyfiles.load_keyring(settings)
    assert not keyfiles.development_keys_path(settings).exists()


def test_keys_file_is_private_and_replaced_atomically(tmp_path: Path, restore_umask: None) -> None:
    os.umask(0)
    path = tmp_path / "keys.json"
    path.write_text("old")
    path.chmod(0o644)
    ring = KeyRing.generate("k1")
    assert keyfiles.write_keys_file(path, ring)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyRing.from_json(path.read_text()) == ring
    # Exclusive creation leaves an existing file alone (two processes generating dev keys).
    assert not keyfiles.write_keys_file(path, KeyRing.generate("k9"), exclusive=True)
    assert KeyRing.from_json(path.read_text()) == ring
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]
