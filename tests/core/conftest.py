"""Fixtures for the core tests that need real commits, several connections or processes."""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from core import audit, keyfiles
from core.audit_checkpoints import CheckpointLog
from core.clock import SystemClock
from core.crypto import KeyRing
from core.db import make_engine, make_session_factory

PG_ONLY = "PostgreSQL only: SQLite has one writer at a time, so this race cannot happen there"


@pytest.fixture
def committed_engine(committed_db: str) -> Iterator[Engine]:
    eng = make_engine(committed_db)
    yield eng
    eng.dispose()


@pytest.fixture
def audit_checkpoints(tmp_path: Path) -> CheckpointLog:
    """This test's audit checkpoint file: where the CLI, given ``tmp_path / "instance"`` as its
    instance folder, keeps it too."""
    return CheckpointLog(tmp_path / "instance" / "audit-checkpoints.jsonl", SystemClock())


@pytest.fixture
def committed_sessions(
    committed_engine: Engine, keyring: KeyRing, audit_checkpoints: CheckpointLog
) -> sessionmaker[Session]:
    """Sessions whose commits are real, on this test's own database."""
    return make_session_factory(
        committed_engine, info=audit.session_info(keyring.audit_chain_keys(), audit_checkpoints)
    )


@pytest.fixture
def engine_factory() -> Iterator[Callable[[str], Engine]]:
    """Separate engines (one per simulated process or thread), all disposed at the end."""
    engines: list[Engine] = []

    def make(url: str) -> Engine:
        eng = make_engine(url)
        engines.append(eng)
        return eng

    yield make
    for eng in engines:
        eng.dispose()


@pytest.fixture
def copy_database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Copies a database the way a backup would: every table, every row, as it is now."""
    drops: list[Callable[[], None]] = []

    def copy(url: str) -> str:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            target = tmp_path / f"backup-{uuid.uuid4().hex[:8]}.db"
            src = sqlite3.connect(str(parsed.database))
            dst = sqlite3.connect(str(target))
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
            return f"sqlite:///{target}"
        # PostgreSQL copies a database with CREATE DATABASE ... TEMPLATE, which needs the
        # source to have no other sessions: callers dispose their engines first.
        name = f"{parsed.database}_bk_{uuid.uuid4().hex[:6]}"
        admin = make_engine(parsed.set(database="postgres").render_as_string(False), pool=False)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))

        def drop() -> None:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        drops.append(drop)
        return parsed.set(database=name).render_as_string(hide_password=False)

    yield copy
    for drop in drops:
        drop()


@pytest.fixture
def cli_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Engine]]:
    """Engines the CLI builds (through core.runtime), disposed after the test.

    A ``lantern`` process closes its connections when it exits; run in-process under CliRunner
    they would stay open until garbage collection and fail the suite with ResourceWarnings.
    """
    import core.runtime
    from core.db import make_engine as real  # what core.runtime calls by its own name

    made: list[Engine] = []

    def tracked(url: str, **kwargs: Any) -> Engine:
        eng = real(url, **kwargs)
        made.append(eng)
        return eng

    monkeypatch.setattr(core.runtime, "make_engine", tracked)
    yield made
    for eng in made:
        eng.dispose()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger onto its own stream; put ours back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def restore_umask() -> Iterator[None]:
    """Tests that set the umask (to prove a file is private by itself) get it back."""
    old = os.umask(0)
    os.umask(old)
    yield
    os.umask(old)


@pytest.fixture
def cli_env(
    committed_db: str,
    tmp_path: Path,
    restore_logging: None,
    cli_engines: list[Engine],
    keyring: KeyRing,
) -> dict[str, str]:
    # The same keys as committed_sessions: the CLI verifies what the tests' sessions chained.
    return {
        "LANTERN_ENV": "test",
        "LANTERN_DATABASE_URL": committed_db,
        "LANTERN_INSTANCE_PATH": str(tmp_path / "instance"),
        **{f"LANTERN_{k.upper()}": v for k, v in keyfiles.environment_values(keyring).items()},
        "LANTERN_PUBLIC_BASE_URL": "https://lantern.test",
        "LANTERN_ARGON2_TIME_COST": "1",
        "LANTERN_ARGON2_MEMORY_KIB": "8",
    }
