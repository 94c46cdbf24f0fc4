"""Shared fixtures: every database test runs on SQLite and, when
``LANTERN_TEST_DATABASE_URL`` is set, on PostgreSQL too.

Each test runs inside a transaction that is rolled back at the end (the app's commits become
SAVEPOINT releases). Tests that need real commits across connections (worker races, SIGKILL
drills) use ``committed_db`` instead, a freshly migrated database of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.migrate import upgrade
from api.registry import register_extensions
from core import audit
from core.audit_checkpoints import CheckpointLog
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine, make_session_factory
from core.keyfiles import environment_values
from core.runtime import Runtime, build_runtime
from core.settings import Settings, load_settings
from tests.json_client import JsonClient

PG_URL = os.environ.get("LANTERN_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _pg_admin_url() -> str:
    url = make_url(PG_URL)
    if not url.drivername.startswith("postgresql+"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def create_database(backend: str, directory: Path) -> tuple[str, Callable[[], None]]:
    """A fresh, migrated database; returns its URL and a function that drops it."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'lantern-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        return url, lambda: None
    admin_url = make_url(_pg_admin_url())
    name = f"lantern_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url.render_as_string(hide_password=False), pool=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)

    def drop() -> None:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = create_database(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield url
    drop()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing.generate("test1")


def make_settings(tmp: Path, database_url: str, keyring: KeyRing, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "instance_path": str(tmp),
        "database_url": database_url,
        **environment_values(keyring),
        "public_base_url": "https://lantern.test",
        "log_level": "INFO",
        # Fast argon2 for tests only; production refuses anything below OWASP's floor.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
    }
    values.update(overrides)
    return load_settings({}, **values)


@pytest.fixture(scope="session")
def fast_hasher() -> SecretHasher:
    return SecretHasher(time_cost=1, memory_kib=8, parallelism=1)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, keyring: KeyRing) -> Settings:
    return make_settings(tmp_path, database_url, keyring)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(
    connection: Connection, keyring: KeyRing, settings: Settings, clock: FrozenClock
) -> sessionmaker[Session]:
    return make_session_factory(
        connection,
        join_transaction_mode="create_savepoint",
        # The checkpoint file of this test's own instance folder, as the runtime's sessions have.
        info=audit.session_info(
            keyring.audit_chain_keys(), CheckpointLog.from_settings(settings, clock)
        ),
    )


@pytest.fixture
def db_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def runtime(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    keyring: KeyRing,
    fast_hasher: SecretHasher,
) -> Runtime:
    return build_runtime(
        settings,
        clock=clock,
        engine=engine,
        session_factory=session_factory,
        keyring=keyring,
        hasher=fast_hasher,
    )


# What ``create_app`` bakes into the Flask app itself; everything else is read from the runtime
# at request time, so a test's own runtime can be swapped in.
_APP_SHAPING = ("env", "debug", "max_body_bytes", "openapi_enabled", "trusted_proxies", "log_level")
_SHARED_APPS: dict[tuple[object, ...], Flask] = {}


def _shape(settings: Settings) -> tuple[object, ...]:
    return (settings.resolved_database_url, *(getattr(settings, f) for f in _APP_SHAPING))


@pytest.fixture
def fresh_app(runtime: Runtime) -> Flask:
    """An app of this test's own, for a test that adds routes or hooks to it."""
    return create_app(runtime.settings, runtime=runtime)


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    """The app, built once per database and app-shaping settings (flask-smorest's blueprint
    registration is most of a test's setup), with this test's runtime swapped in: its clock,
    its rolled-back session, its fakes. A test that must change the app itself takes
    ``fresh_app``."""
    return shared_app(runtime)


def shared_app(
    runtime: Runtime, *, variant: str = "", prepare: Callable[[Flask], Flask] | None = None
) -> Flask:
    """The shared app for ``runtime`` (see ``app``), for fixtures that first change the
    runtime's settings or collaborators (a Twilio gateway, webhook credentials). A ``variant``
    is an app of its own kind, built once with ``prepare`` (the test routes of tests/api)."""
    shape = (variant, *_shape(runtime.settings))
    shared = _SHARED_APPS.get(shape)
    if shared is None:
        built = create_app(runtime.settings, runtime=runtime)
        shared = _SHARED_APPS[shape] = prepare(built) if prepare else built
        return shared
    shared.extensions["lantern"] = runtime
    register_extensions(shared, runtime)
    return shared


@pytest.fixture
def client(app: Flask) -> JsonClient:
    return JsonClient(app)


@pytest.fixture
def committed_db(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, where commits are real (for multi-connection tests)."""
    url, drop = create_database(backend, tmp_path)
    yield url
    drop()
