"""Audit keys and evidence signing keys: kept like the KEKs, rotated by key id, never printed,
refused when missing in production, and added loudly to an older development keys file."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.cli import main as lantern
from core import crypto, keyfiles
from core.crypto import EvidenceKey, KeyRing
from core.errors import ConfigurationError, CryptoError
from core.settings import Settings, load_settings
from tests.api.test_production import production_values


def _old_keys_file(path: Path) -> KeyRing:
    """A keys file as Lantern wrote it before audit and evidence keys existed."""
    ring = KeyRing.generate("k1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "keks": [{"id": kid, "key": crypto.b64encode(k)} for kid, k in ring.keks],
                "index_key": crypto.b64encode(ring.index_key),
            }
        )
    )
    return ring


# --- the key ring -----------------------------------------------------------------------------


def test_a_generated_ring_has_every_kind_of_key_and_round_trips() -> None:
    ring = KeyRing.generate("k1")
    assert ring.missing() == ()
    assert len(ring.audit_keys) == 1
    assert ring.signing_key.private is not None
    assert KeyRing.from_json(ring.to_json()) == ring
    retired = ring.with_new_evidence_key("e2").retire_evidence_key(ring.signing_key.key_id)
    again = KeyRing.from_json(retired.to_json())
    assert again == retired
    assert again.evidence_keys[1].private is None
    assert "private_key" not in json.loads(retired.to_json())["evidence_keys"][1]


def test_the_ring_never_shows_a_key_in_its_repr() -> None:
    ring = KeyRing.generate("k1").with_new_evidence_key("e2")
    text = repr(ring) + str(ring) + repr(ring.audit_chain_keys()) + repr(ring.signing_key)
    assert "e2" in text
    secrets = [k for _, k in (*ring.keks, *ring.audit_keys)]
    secrets += [k.private for k in ring.evidence_keys if k.private is not None]
    for secret in secrets:
        assert crypto.b64encode(secret) not in text
        assert repr(secret) not in text


def test_the_ring_refuses_reused_or_misplaced_keys() -> None:
    ring = KeyRing.generate("k1")
    kek = ring.keks[0][1]
    audit_id, audit_key = ring.audit_keys[0]
    bad: list[dict[str, Any]] = [
        {"audit_keys": (("k1", crypto.random_key()),)},  # id shared with a KEK
        {"audit_keys": (("a1", kek),)},  # a KEK reused as the audit key
        {"audit_keys": (("a1", ring.index_key),)},  # the index key reused
        {"audit_keys": (("a1", audit_key), ("a2", audit_key))},  # one key under two ids
        {"audit_keys": (("a1", audit_key[:16]),)},  # short
        {"audit_keys": (("a:1", crypto.random_key()),)},  # separator in the id
        {"evidence_keys": (EvidenceKey.generate(audit_id),)},  # id shared with the audit key
        {"evidence_keys": (ring.signing_key.public_only(),)},  # a primary that cannot sign
    ]
    for change in bad:
        values = {
            "keks": ring.keks,
            "index_key": ring.index_key,
            "audit_keys": ring.audit_keys,
            "evidence_keys": ring.evidence_keys,
            **change,
        }
        with pytest.raises(ConfigurationError):
            KeyRing(**values)
    with pytest.raises(ConfigurationError):
        EvidenceKey(
            "e1", EvidenceKey.generate().public, EvidenceKey.generate().private
        )  # halves of two keys
    with pytest.raises(ConfigurationError):
        ring.retire_evidence_key(ring.signing_key.key_id)  # the primary
    with pytest.raises(CryptoError):
        ring.retire_evidence_key("nope")


@given(data=st.binary(max_size=2000), flip=st.integers(min_value=0))
@settings(max_examples=50, deadline=None)
def test_evidence_signatures_verify_and_any_change_fails(data: bytes, flip: int) -> None:
    key = EvidenceKey.generate()
    signature = key.sign(data)
    assert crypto.verify_evidence(key.public, signature, data)
    assert not crypto.verify_evidence(EvidenceKey.generate().public, signature, data)
    if data:
        at = flip % len(data)
        changed = data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]
        assert not crypto.verify_evidence(key.public, signature, changed)
    bad_sig = signature[:-1] + bytes([signature[-1] ^ 1])
    assert not crypto.verify_evidence(key.public, bad_sig, data)
    assert not crypto.verify_evidence(key.public, signature[:10], data)
    assert not crypto.verify_evidence(b"short", signature, data)


def test_audit_links_depend_on_the_key() -> None:
    a, b = crypto.random_key(), crypto.random_key()
    keys = crypto.AuditChainKeys((("a1", a), ("a2", b)))
    assert keys.primary_id == "a1"
    first = keys.mac("a1", b"x")
    assert first == hmac.new(a, b"x", "sha256").hexdigest()  # HMAC-SHA256, nothing home-made
    assert keys.mac("a1", b"x") == first  # the keyed state is copied, never used up
    assert keys.mac("a2", b"x") != first
    assert keys.mac("a1", b"y") != first
    assert keys.mac("a3", b"x") is None
    assert len(first) == 64  # as wide as the unkeyed SHA-256 links
    with pytest.raises(ConfigurationError):
        _ = crypto.AuditChainKeys(()).primary_id


# --- where the keys come from -------------------------------------------------------------------


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return load_settings({}, instance_path=str(tmp_path / "instance"), **values)


def test_environment_keys_round_trip_including_a_retired_evidence_key(tmp_path: Path) -> None:
    ring = KeyRing.generate("k1").with_new_evidence_key("e2")
    ring = ring.retire_evidence_key(ring.evidence_keys[1].key_id).with_new_audit_key("a2")
    env = keyfiles.environment_values(ring)
    assert ":public:" in env["evidence_keys"]
    assert keyfiles.load_keyring(_settings(tmp_path, env="production", **env)) == ring


def test_environment_overrides_the_keys_files_audit_and_evidence_keys(tmp_path: Path) -> None:
    in_file, in_env = KeyRing.generate("k1"), KeyRing.generate("k9")
    path = tmp_path / "keys.json"
    keyfiles.write_keys_file(path, in_file)
    env = keyfiles.environment_values(in_env)
    loaded = keyfiles.load_keyring(
        _settings(
            tmp_path,
            keys_file=str(path),
            audit_keys=env["audit_keys"],
            evidence_keys=env["evidence_keys"],
        )
    )
    assert loaded.keks == in_file.keks
    assert (loaded.audit_keys, loaded.evidence_keys) == (in_env.audit_keys, in_env.evidence_keys)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("audit_keys", "a1"),
        ("audit_keys", "a1:%%%"),
        ("audit_keys", "a1:" + crypto.b64encode(b"x" * 20)),
        ("evidence_keys", "e1:" + crypto.b64encode(b"x" * 31)),
        ("evidence_keys", "e1:public:%%%"),
        ("evidence_keys", "e1:public:" + crypto.b64encode(EvidenceKey.generate().public)),
    ],
    ids=["no-key", "bad-base64", "short", "short-seed", "bad-public", "primary-public-only"],
)
def test_malformed_environment_keys_are_refused_without_echoing_them(
    tmp_path: Path, setting: str, value: str
) -> None:
    env = keyfiles.environment_values(KeyRing.generate("k1")) | {setting: value}
    with pytest.raises(ConfigurationError) as refused:
        keyfiles.load_keyring(_settings(tmp_path, **env))
    for part in value.split(":"):
        if len(part) >= 8:
            assert part not in str(refused.value)


@pytest.mark.parametrize(
    ("missing", "name"),
    [("audit_keys", "LANTERN_AUDIT_KEYS"), ("evidence_keys", "LANTERN_EVIDENCE_KEYS")],
)
def test_production_refuses_to_start_without_an_audit_or_evidence_key(
    tmp_path: Path, keyring: KeyRing, missing: str, name: str
) -> None:
    settings = Settings(**{**production_values(tmp_path, keyring), missing: ""})
    with pytest.raises(ConfigurationError, match=name):
        create_app(settings)
    # The same, with the keys in a keys file that lacks them (an older one).
    path = tmp_path / "keys.json"
    _old_keys_file(path)
    from_file = Settings(
        **{
            **production_values(tmp_path, keyring),
            "keks": "",
            "index_key": "",
            "audit_keys": "",
            "evidence_keys": "",
            "keys_file": str(path),
        }
    )
    with pytest.raises(ConfigurationError, match="LANTERN_AUDIT_KEYS and LANTERN_EVIDENCE_KEYS"):
        create_app(from_file)
    assert json.loads(path.read_text()).keys() == {"keks", "index_key"}  # never changed there


def test_an_older_development_keys_file_is_extended_loudly_and_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, env="development")
    path = keyfiles.development_keys_path(settings)
    old = _old_keys_file(path)
    with caplog.at_level(logging.WARNING, logger="core.keyfiles"):
        ring = keyfiles.load_keyring(settings)
    assert (ring.keks, ring.index_key) == (old.keks, old.index_key)  # survivors' data still opens
    assert ring.missing() == ()
    warnings = [r for r in caplog.records if "DEVELOPMENT" in r.getMessage()]
    assert len(warnings) == 1
    assert KeyRing.from_json(path.read_text()) == ring
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="core.keyfiles"):
        assert keyfiles.load_keyring(settings) == ring
    assert not caplog.records


def test_processes_starting_together_on_an_older_file_agree_on_the_new_keys(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, env="development")
    _old_keys_file(keyfiles.development_keys_path(settings))
    barrier = threading.Barrier(6)
    rings: list[KeyRing] = []

    def load() -> None:
        barrier.wait(10)
        rings.append(keyfiles.load_keyring(settings))

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(rings) == 6
    assert all(r == rings[0] for r in rings)


def test_production_never_extends_a_keys_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    _old_keys_file(path)
    with pytest.raises(ConfigurationError, match="LANTERN_AUDIT_KEYS"):
        keyfiles.load_keyring(_settings(tmp_path, env="production", keys_file=str(path)))
    with pytest.raises(ConfigurationError, match="LANTERN_AUDIT_KEYS"):
        # Nor a named keys file in development: only the generated development file.
        keyfiles.load_keyring(_settings(tmp_path, env="development", keys_file=str(path)))
    assert json.loads(path.read_text()).keys() == {"keks", "index_key"}


# --- `lantern keys` -------------------------------------------------------------------------------


def test_generate_prints_every_kind_of_key_for_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(lantern, ["keys", "generate"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    values = {
        "keks": lines[0].rsplit(" ", 1)[1],
        "index_key": lines[1].rsplit(" ", 1)[1],
        "audit_keys": lines[2].rsplit(" ", 1)[1],
        "evidence_keys": lines[3].rsplit(" ", 1)[1],
    }
    assert "LANTERN_AUDIT_KEYS" in lines[2]
    assert "LANTERN_EVIDENCE_KEYS" in lines[3]
    ring = keyfiles.load_keyring(_settings(tmp_path, env="production", **values))
    assert ring.missing() == ()


def test_generate_on_an_older_keys_file_adds_the_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    old = _old_keys_file(path)
    result = CliRunner().invoke(lantern, ["keys", "generate", "--file", str(path)])
    assert result.exit_code == 0, result.output
    ring = KeyRing.from_json(path.read_text())
    assert ring.keks[1:] == old.keks
    assert ring.missing() == ()
    assert "added the missing audit key" in result.output
    assert "added the missing evidence signing key" in result.output
    for _, key in ring.audit_keys:
        assert crypto.b64encode(key) not in result.output


@pytest.fixture
def keys_file_env(tmp_path: Path, restore_logging: None) -> dict[str, str]:
    path = tmp_path / "keys.json"
    keyfiles.write_keys_file(path, KeyRing.generate("k1"))
    return {
        "LANTERN_ENV": "test",
        "LANTERN_KEYS_FILE": str(path),
        "LANTERN_INSTANCE_PATH": str(tmp_path / "instance"),
        "LANTERN_DATABASE_URL": "sqlite:///" + str(tmp_path / "unused.db"),
    }


def test_rotate_and_retire_evidence_and_audit_keys_in_a_keys_file(
    keys_file_env: dict[str, str],
) -> None:
    runner = CliRunner()
    path = Path(keys_file_env["LANTERN_KEYS_FILE"])
    before = KeyRing.from_json(path.read_text())
    rotated = runner.invoke(lantern, ["keys", "rotate", "--audit", "--evidence"], env=keys_file_env)
    assert rotated.exit_code == 0, rotated.output
    ring = KeyRing.from_json(path.read_text())
    assert ring.keks == before.keks  # no KEK work, no database needed
    assert ring.audit_keys[1:] == before.audit_keys
    assert ring.evidence_keys[1:] == before.evidence_keys
    assert ring.signing_key.key_id in rotated.output

    old_id = before.signing_key.key_id
    retired = runner.invoke(lantern, ["keys", "retire", old_id], env=keys_file_env)
    assert retired.exit_code == 0, retired.output
    after = KeyRing.from_json(path.read_text())
    assert after.evidence_keys[1] == before.signing_key.public_only()
    assert "still verify" in retired.output

    primary = runner.invoke(
        lantern, ["keys", "retire", after.signing_key.key_id], env=keys_file_env
    )
    assert primary.exit_code != 0
    assert "primary evidence key" in primary.output
    audit = runner.invoke(lantern, ["keys", "retire", after.audit_keys[1][0]], env=keys_file_env)
    assert audit.exit_code != 0
    assert "audit keys are never retired" in audit.output
    assert KeyRing.from_json(path.read_text()) == after


def test_rotating_keys_held_in_the_environment_prints_new_ones(tmp_path: Path) -> None:
    env = {
        f"LANTERN_{k.upper()}": v
        for k, v in keyfiles.environment_values(KeyRing.generate("k1")).items()
    }
    env |= {"LANTERN_ENV": "test", "LANTERN_INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(lantern, ["keys", "rotate", "--evidence"], env=env)
    assert result.exit_code == 0, result.output
    assert "prepend to LANTERN_EVIDENCE_KEYS" in result.output
    assert not (tmp_path / "instance").exists()
