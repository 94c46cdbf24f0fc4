"""The collaborators one process shares: settings, clock, database, keys, hashers.

Built once per process (app or worker) from settings, never at import time; tests build their
own with a frozen clock and a session factory bound to a rolled-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.audit_checkpoints import CheckpointLog
from core.clock import Clock, SystemClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine, make_session_factory
from core.hooks import Collaborators
from core.keyfiles import load_keyring
from core.settings import Settings
from core.vault import Vault


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    keyring: KeyRing
    vault: Vault
    hasher: SecretHasher
    # Each domain's collaborators (SMS gateway, push sender, webhook sender...), as the typed
    # dataclass that domain declares, built and provided by the composition root (api/wiring.py).
    collaborators: Collaborators = field(default_factory=Collaborators)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
    keyring: KeyRing | None = None,
    hasher: SecretHasher | None = None,
) -> Runtime:
    clock = clock or SystemClock()
    if settings.is_sqlite and not settings.database_url:
        Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    # Each worker thread holds a connection while its job runs; keep room for them.
    engine = engine or make_engine(
        settings.resolved_database_url, pool_size=max(5, settings.worker_threads + 2)
    )
    keyring = keyring or load_keyring(settings)
    session_factory = session_factory or make_session_factory(engine)
    # Every session this process opens chains audit events under the primary audit key, and
    # verifies the log against the checkpoints kept outside the database.
    audit.bind_keys(
        session_factory,
        keyring.audit_chain_keys(),
        CheckpointLog.from_settings(settings, clock),
    )
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        session_factory=session_factory,
        keyring=keyring,
        vault=Vault(keyring, clock),
        hasher=hasher or SecretHasher.from_settings(settings),
    )
