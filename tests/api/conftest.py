"""Helpers for the HTTP shell tests: test-only routes, apps with changed settings, captured logs.

Test-only routes live here and are registered on an app built by ``create_app`` inside a test,
never in production code. They are private (deny by default) unless a test makes them public.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api import app as api_app
from api.app import create_app
from core.runtime import Runtime
from core.schemas import Schema, integer
from core.schemas import text as text_field
from tests.conftest import shared_app
from tests.json_client import JsonClient
from web import access
from web.db import session
from web.logs import configure_logging
from web.openapi import smorest_api

# Values no response or log line may ever contain.
CANARY = "canary-7c1f9e"


class EchoSchema(Schema):
    name = text_field(40)
    count = integer()


class SearchSchema(Schema):
    q = text_field(40, required=False)


def probe_blueprint() -> Blueprint:
    """A fresh test-only blueprint (one per app, so that no state leaks between apps)."""
    blp = Blueprint("probe", __name__, url_prefix="/probe")

    @blp.route("/echo", methods=["POST"])
    @blp.arguments(EchoSchema)
    @blp.response(200, EchoSchema)
    def echo(data: dict[str, Any]) -> dict[str, Any]:
        # A careless view, logging all it was given: the log filter must still keep it out.
        logging.getLogger("lantern.probe").info(
            "echo %s %s",
            request.get_data(as_text=True),
            dict(request.args),
            extra={"headers": dict(request.headers), "data": data},
        )
        return data

    @blp.route("/search")
    @blp.arguments(SearchSchema, location="query")
    @blp.response(200)
    def search(args: dict[str, Any]) -> dict[str, Any]:
        return {"q": args.get("q")}

    @blp.route("/boom")
    def boom() -> dict[str, Any]:
        logging.getLogger("lantern.probe").warning("about to fail for %s", request.full_path)
        raise RuntimeError(f"internal detail {CANARY} /srv/lantern/secret.py line 12")

    @blp.route("/db-down")
    def db_down() -> dict[str, Any]:
        raise OperationalError(
            f"SELECT secret FROM survivors WHERE phone = '{CANARY}'",
            {},
            ConnectionRefusedError(f"connection to 10.0.0.5 refused {CANARY}"),
        )

    @blp.route("/query-db")
    def query_db() -> dict[str, Any]:
        session().execute(text("SELECT 1"))
        return {"ok": True}

    @blp.route("/commit-fails", methods=["POST"])
    def commit_fails() -> dict[str, Any]:
        s = session()

        def broken_commit() -> None:
            raise OperationalError("COMMIT", {}, ConnectionResetError(CANARY))

        # A deliberate fake, which mypy rightly refuses: this request's session fails at commit.
        s.commit = broken_commit  # type: ignore[method-assign]
        return {"ok": True}

    @blp.route("/remote-addr")
    def remote_addr() -> dict[str, Any]:
        return {"remote_addr": request.remote_addr, "scheme": request.scheme}

    @blp.route("/log")
    def log_lines() -> dict[str, Any]:
        logging.getLogger("lantern.probe").info("first line")
        logging.getLogger("some.library").warning("a library speaks")
        logging.getLogger("lantern.probe").info("third line", extra={"event": "probe"})
        return {"ok": True}

    @blp.route("/private", methods=["GET", "POST"])
    def private() -> dict[str, Any]:
        return {"ok": True}

    return blp


PUBLIC_PROBES = frozenset(
    {
        "probe.echo",
        "probe.search",
        "probe.boom",
        "probe.db_down",
        "probe.query_db",
        "probe.commit_fails",
        "probe.remote_addr",
        "probe.log_lines",
    }
)


def add_probes(app: Flask) -> Flask:
    smorest_api(app).register_blueprint(probe_blueprint())
    return app


@pytest.fixture
def public_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every probe but ``probe.private`` answers without credentials, for this test only."""
    monkeypatch.setattr(access, "PUBLIC_ENDPOINTS", access.PUBLIC_ENDPOINTS | PUBLIC_PROBES)


@pytest.fixture
def probe_app(runtime: Runtime, public_probes: None) -> Flask:
    """The app with the probes, built once like ``app`` (the probes change nothing per test)."""
    return shared_app(runtime, variant="probes", prepare=add_probes)


@pytest.fixture
def probe_client(probe_app: Flask) -> Any:
    return JsonClient(probe_app)


AppFactory = Callable[..., Flask]


@pytest.fixture
def app_with(runtime: Runtime, public_probes: None) -> AppFactory:
    """Build an app (with the probes) whose settings differ from the test settings."""

    def build(runtime_: Runtime | None = None, **overrides: Any) -> Flask:
        rt = runtime_ or runtime
        rt = dataclasses.replace(rt, settings=rt.settings.replace(**overrides))
        return add_probes(create_app(rt.settings, runtime=rt))

    return build


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class CapturedLogs:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every line, parsed; a line that is not one JSON object fails the test."""
        out = []
        for line in self.text().splitlines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            out.append(record)
        return out

    def text_without_time(self) -> str:
        # Timestamps are digits; a short canary (a PIN) could appear in one by chance.
        return "\n".join(
            json.dumps({k: v for k, v in r.items() if k != "time"}) for r in self.records()
        )


@pytest.fixture
def captured_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedLogs]:
    """Route the root JSON handler (as create_app installs it) to a buffer for this test.

    create_app installs its handler afresh, so apps built during the test are redirected too.
    """
    stream = io.StringIO()

    def to_buffer(level: str = "INFO", _stream: Any = None) -> None:
        configure_logging(level, stream)

    monkeypatch.setattr(api_app, "configure_logging", to_buffer)
    to_buffer("DEBUG")
    yield CapturedLogs(stream)
    configure_logging("INFO")
