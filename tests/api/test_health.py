"""Liveness and readiness: /readyz says 503 when the database is away or behind."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import make_url, text

from api.app import create_app
from api.migrate import upgrade
from core.db import make_engine, make_session_factory
from core.runtime import Runtime
from tests.api.conftest import closed_port
from tests.conftest import PG_URL
from tests.json_client import JsonClient
from web.problems import PROBLEM_MIME, TYPE_PREFIX

FIRST_REVISION = "0001"


def app_on(runtime: Runtime, url: str) -> Flask:
    """The test app, but with its database at ``url`` (real commits; /readyz only reads)."""
    engine = make_engine(url, pool=False)
    rt = dataclasses.replace(
        runtime,
        settings=runtime.settings.replace(database_url=url),
        engine=engine,
        session_factory=make_session_factory(engine),
    )
    return create_app(rt.settings, runtime=rt)


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's backend with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"lantern_empty_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url.render_as_string(hide_password=False), pool=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def assert_not_ready(app: Flask, reason: str) -> None:
    r = JsonClient(app).get("/readyz")
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM_MIME
    body = json.loads(r.get_data())
    assert body["type"] == TYPE_PREFIX + "service-unavailable"
    assert reason in body["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # Nothing about where the database is or what it said.
    text_ = r.get_data(as_text=True)
    for leak in ("127.0.0.1", "sqlite", "postgres", "Traceback", "alembic"):
        assert leak not in text_


def test_ready_when_migrated_to_head(app: Flask) -> None:
    r = JsonClient(app).get("/readyz")
    assert r.status_code == 200
    assert r.json == {"status": "ready"}


def test_not_ready_when_the_database_is_unreachable(runtime: Runtime) -> None:
    url = f"postgresql+psycopg://lantern@127.0.0.1:{closed_port()}/lantern"
    assert_not_ready(app_on(runtime, url), "not reachable")


def test_not_ready_when_the_sqlite_file_cannot_be_opened(runtime: Runtime, tmp_path: Path) -> None:
    assert_not_ready(
        app_on(runtime, f"sqlite:///{tmp_path}/missing/dir/lantern.db"), "not reachable"
    )


def test_not_ready_when_never_migrated(runtime: Runtime, empty_database: str) -> None:
    assert_not_ready(app_on(runtime, empty_database), "latest migration")


def test_not_ready_when_migrated_only_part_way(runtime: Runtime, empty_database: str) -> None:
    upgrade(empty_database, FIRST_REVISION)
    assert_not_ready(app_on(runtime, empty_database), "latest migration")
    upgrade(empty_database)  # the same database at head is ready: the check is not stuck
    r = JsonClient(app_on(runtime, empty_database)).get("/readyz")
    assert r.status_code == 200


def test_alive_even_when_the_database_is_not(runtime: Runtime) -> None:
    app = app_on(runtime, f"postgresql+psycopg://lantern@127.0.0.1:{closed_port()}/lantern")
    r = JsonClient(app).get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok"}
