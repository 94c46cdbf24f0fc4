from __future__ import annotations

import json

from tests.json_client import JsonClient

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def test_healthz_is_public_and_ok(client: JsonClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok"}


def test_readyz_checks_database_and_migrations(client: JsonClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json == {"status": "ready"}


def test_unknown_path_is_problem_json(client: JsonClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.mimetype == "application/problem+json"
    body = json.loads(r.data)
    assert body["type"] == "urn:lantern:problem:not-found"
    assert body["status"] == 404
    assert body["request_id"] == r.headers["X-Request-Id"]


def test_wrong_method_is_405_with_allow(client: JsonClient) -> None:
    r = client.delete("/healthz")
    assert r.status_code == 405
    assert r.mimetype == "application/problem+json"
    assert "GET" in r.headers["Allow"]


def test_every_response_has_security_headers(client: JsonClient) -> None:
    for r in (client.get("/healthz"), client.get("/nope"), client.post("/healthz")):
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in r.headers  # only in production
