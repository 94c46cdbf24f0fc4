"""Lantern served for real on loopback, for the browser tests: its own committed database, the
real clock (TOTP codes are computed as an authenticator app would), a thread of werkzeug's
server in front of the same WSGI app gunicorn runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from api.app import create_app
from core.crypto import KeyRing
from core.runtime import Runtime, build_runtime
from tests.conftest import make_settings


@dataclass
class LiveConsole:
    url: str
    app: Flask
    runtime: Runtime

    def session(self) -> Session:
        return self.runtime.session_factory()


@contextmanager
def serve(database_url: str, directory: Path, *, tls: bool = False) -> Iterator[LiveConsole]:
    """``tls=True`` serves HTTPS with a throwaway self-signed certificate (as production is
    reached through TLS, where browsers and Flask-WTF behave differently)."""
    settings = make_settings(directory, database_url, KeyRing.generate("browser"))
    runtime = build_runtime(settings)
    app = create_app(settings, runtime=runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context="adhoc" if tls else None)
    thread = threading.Thread(target=server.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        scheme = "https" if tls else "http"
        yield LiveConsole(f"{scheme}://127.0.0.1:{server.server_port}", app, runtime)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        runtime.engine.dispose()
