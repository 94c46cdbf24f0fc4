"""Security headers on every kind of response; HSTS only in production."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.conftest import AppFactory
from tests.json_client import JsonClient, JsonResponse

HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CSP_DIRECTIVES = ("default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'")

Request = Callable[[JsonClient], JsonResponse]

RESPONSES: dict[str, tuple[Request, int]] = {
    "ok": (lambda c: c.get("/healthz"), 200),
    "head": (lambda c: c.head("/healthz"), 200),
    "options": (lambda c: c.options("/healthz"), 200),
    "openapi": (lambda c: c.get("/openapi.json"), 200),
    "not-found": (lambda c: c.get("/no/such/path"), 404),
    "method-not-allowed": (lambda c: c.delete("/healthz"), 405),
    "unauthenticated": (lambda c: c.get("/probe/private"), 401),
    "malformed-json": (
        lambda c: c.post("/probe/echo", data="{", content_type="application/json"),
        400,
    ),
    "wrong-media-type": (
        lambda c: c.post("/probe/echo", data="a=1", content_type="text/plain"),
        415,
    ),
    "validation": (lambda c: c.post("/probe/echo", json={"nope": 1}), 422),
    "too-large": (
        lambda c: c.post("/probe/echo", data=b" " * (2 << 20), content_type="application/json"),
        413,
    ),
    "server-error": (lambda c: c.get("/probe/boom"), 500),
    "database-down": (lambda c: c.get("/probe/db-down"), 503),
    "commit-failed": (lambda c: c.post("/probe/commit-fails"), 503),
}


def assert_security_headers(r: JsonResponse) -> None:
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (name, r.status_code)
    csp = r.headers["Content-Security-Policy"]
    for directive in CSP_DIRECTIVES:
        assert directive in csp
    assert r.headers["X-Request-Id"]


@pytest.mark.parametrize("kind", list(RESPONSES))
def test_every_kind_of_response_has_the_security_headers(
    probe_client: JsonClient, kind: str
) -> None:
    send, status = RESPONSES[kind]
    r = send(probe_client)
    assert r.status_code == status, r.get_data(as_text=True)
    assert_security_headers(r)
    assert "Strict-Transport-Security" not in r.headers  # test mode, not production


@pytest.mark.parametrize("kind", ["ok", "openapi", "not-found", "unauthenticated", "server-error"])
def test_production_adds_hsts(app_with: AppFactory, kind: str, tmp_path: Path) -> None:
    # The runtime keeps its test database and only the settings say production (with a
    # PostgreSQL URL that is never used). Production settings are checked in test_production.py.
    app = app_with(
        env="production",
        database_url="postgresql+psycopg://lantern@db.invalid/lantern",
        audit_checkpoints_path=str(tmp_path / "audit-checkpoints.jsonl"),
        sms_backend="twilio",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="not-a-real-token",
        twilio_messaging_service_sid="MG" + "0" * 32,
    )
    client = JsonClient(app)
    send, status = RESPONSES[kind]
    r = send(client)
    assert r.status_code == status
    assert_security_headers(r)
    hsts = r.headers["Strict-Transport-Security"]
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 31_536_000
    assert "includeSubDomains" in hsts
