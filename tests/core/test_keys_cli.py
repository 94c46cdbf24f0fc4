"""`lantern keys generate` and `lantern keys rotate`, run through the real CLI."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from api.cli import main as lantern
from core import crypto, keyfiles
from core.clock import FrozenClock
from core.crypto import Binding, KeyRing
from core.errors import CryptoError
from core.vault import DataKey, Vault


def _binding(owner: uuid.UUID) -> Binding:
    return Binding("safety_plans", "body", uuid.UUID(int=3), owner)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_a_private_keys_file_then_adds_primaries(
    tmp_path: Path, restore_umask: None
) -> None:
    os.umask(0)  # private by construction, whatever the operator's umask
    path = tmp_path / "secrets" / "keys.json"
    runner = CliRunner()
    first = runner.invoke(lantern, ["keys", "generate", "--file", str(path)])
    assert first.exit_code == 0, first.output
    assert _mode(path) == 0o600
    ring1 = KeyRing.from_json(path.read_text())
    assert len(ring1.keks) == 1
    assert ring1.primary_id in first.output
    assert crypto.b64encode(ring1.keks[0][1]) not in first.output  # never print a key

    second = runner.invoke(lantern, ["keys", "generate", "--file", str(path)])
    assert second.exit_code == 0, second.output
    assert _mode(path) == 0o600
    ring2 = KeyRing.from_json(path.read_text())
    assert len(ring2.keks) == 2
    assert ring2.primary_id != ring1.primary_id
    assert ring2.keks[1] == ring1.keks[0]  # the old KEK stays, for reading
    assert ring2.index_key == ring1.index_key  # blind indexes keep working
    assert "keys rotate" in second.output
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json"]


def test_generate_without_a_file_prints_usable_keys() -> None:
    result = CliRunner().invoke(lantern, ["keys", "generate"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    kek = lines[0].rsplit(" ", 1)[1]
    index_key = lines[1].rsplit(" ", 1)[1]
    ring = KeyRing(keks=keyfiles.parse_keks(kek), index_key=crypto.b64decode(index_key))
    assert len(ring.keks) == 1


@pytest.fixture
def keys_env(
    committed_db: str,
    tmp_path: Path,
    restore_logging: None,
    cli_engines: list[Engine],
) -> dict[str, str]:
    return {
        "LANTERN_ENV": "test",
        "LANTERN_DATABASE_URL": committed_db,
        "LANTERN_KEYS_FILE": str(tmp_path / "keys.json"),
        "LANTERN_INSTANCE_PATH": str(tmp_path / "instance"),
        "LANTERN_ARGON2_TIME_COST": "1",
        "LANTERN_ARGON2_MEMORY_KIB": "8",
    }


def test_rotate_rewraps_data_keys_under_the_new_primary(
    keys_env: dict[str, str], committed_sessions: sessionmaker[Session]
) -> None:
    runner = CliRunner()
    path = Path(keys_env["LANTERN_KEYS_FILE"])
    assert runner.invoke(lantern, ["keys", "generate", "--file", str(path)]).exit_code == 0
    ring1 = KeyRing.from_json(path.read_text())
    owners = [uuid.uuid4() for _ in range(3)]
    with committed_sessions() as s:
        vault = Vault(ring1, FrozenClock())
        sealed = {o: vault.seal(s, _binding(o), f"plan {o}") for o in owners}
        s.commit()

    assert runner.invoke(lantern, ["keys", "generate", "--file", str(path)]).exit_code == 0
    ring2 = KeyRing.from_json(path.read_text())
    result = runner.invoke(lantern, ["keys", "rotate"], env=keys_env)
    assert result.exit_code == 0, result.output
    assert f"re-wrapped 3 data keys under {ring2.primary_id}" in result.output

    with committed_sessions() as s:
        assert {row.kek_id for row in s.scalars(select(DataKey))} == {ring2.primary_id}
        # Opens with the old KEK retired: only the re-wrapped keys can do that.
        retired = Vault(ring2.without(ring1.primary_id), FrozenClock())
        for owner, ciphertext in sealed.items():
            assert retired.open_text(s, _binding(owner), ciphertext) == f"plan {owner}"

    again = runner.invoke(lantern, ["keys", "rotate"], env=keys_env)
    assert again.exit_code == 0
    assert "re-wrapped 0 data keys" in again.output

    # --new-primary does both steps on a keys file.
    both = runner.invoke(lantern, ["keys", "rotate", "--new-primary"], env=keys_env)
    assert both.exit_code == 0, both.output
    ring3 = KeyRing.from_json(path.read_text())
    assert len(ring3.keks) == 3
    assert _mode(path) == 0o600
    assert f"re-wrapped 3 data keys under {ring3.primary_id}" in both.output
    with committed_sessions() as s:
        assert {row.kek_id for row in s.scalars(select(DataKey))} == {ring3.primary_id}


def test_retire_refuses_primary_and_used_keys_then_makes_an_old_backup_noise(
    keys_env: dict[str, str], committed_sessions: sessionmaker[Session]
) -> None:
    runner = CliRunner()
    path = Path(keys_env["LANTERN_KEYS_FILE"])
    assert runner.invoke(lantern, ["keys", "generate", "--file", str(path)]).exit_code == 0
    ring1 = KeyRing.from_json(path.read_text())
    erased, kept = uuid.uuid4(), uuid.uuid4()
    with committed_sessions() as s:
        vault = Vault(ring1, FrozenClock())
        sealed = {o: vault.seal(s, _binding(o), f"plan {o}") for o in (erased, kept)}
        s.commit()
        # The "backup": the wrapped data key rows as they were before the erasure.
        backup = {row.owner_id: (row.kek_id, row.wrapped) for row in s.scalars(select(DataKey))}

    refused = runner.invoke(lantern, ["keys", "retire", ring1.primary_id], env=keys_env)
    assert refused.exit_code != 0
    assert "primary" in refused.output
    assert runner.invoke(lantern, ["keys", "generate", "--file", str(path)]).exit_code == 0
    in_use = runner.invoke(lantern, ["keys", "retire", ring1.primary_id], env=keys_env)
    assert in_use.exit_code != 0
    assert "rotate" in in_use.output

    with committed_sessions() as s:
        Vault(ring1, FrozenClock()).erase(s, erased)
        s.commit()
    assert runner.invoke(lantern, ["keys", "rotate"], env=keys_env).exit_code == 0
    done = runner.invoke(lantern, ["keys", "retire", ring1.primary_id], env=keys_env)
    assert done.exit_code == 0, done.output
    ring = KeyRing.from_json(path.read_text())
    assert len(ring.keks) == 1
    assert ring1.primary_id not in {kid for kid, _ in ring.keks}
    # The old backup's wrapped key for the erased survivor needs a KEK that no longer exists.
    kek_id, wrapped = backup[erased]
    with pytest.raises(CryptoError):
        crypto.unwrap_data_key(ring, erased, kek_id, wrapped)
    # The survivor who was not erased still opens from the live database.
    with committed_sessions() as s:
        assert (
            Vault(ring, FrozenClock()).open_text(s, _binding(kept), sealed[kept]) == f"plan {kept}"
        )
