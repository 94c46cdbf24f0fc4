"""The end-to-end tests need a PostgreSQL server to make their databases on.

With ``LANTERN_TEST_DATABASE_URL`` set (CI, ``make test`` on PostgreSQL) they use that server
and fail if it is unreachable. Without it, they try the local default server and skip, with the
reason, when there is none: a SQLite-only run cannot host gunicorn + workers + PostgreSQL.
"""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.e2e import harness


def _admin_url() -> str:
    configured = os.environ.get("LANTERN_TEST_DATABASE_URL", "")
    if configured and not os.environ.get("LANTERN_E2E_ADMIN_URL"):
        # Same server, its maintenance database: each e2e stack creates and drops its own.
        return configured.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    return harness.ADMIN_URL


@pytest.fixture(scope="session", autouse=True)
def e2e_postgres() -> None:
    url = _admin_url()
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("LANTERN_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL for the e2e tests is unreachable at {url}: {exc}")
        pytest.skip(f"the e2e tests need PostgreSQL (none at {url}); set LANTERN_TEST_DATABASE_URL")
    harness.ADMIN_URL = url
