"""Every error is RFC 9457 problem+json with a stable type, and nothing internal leaks."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest

from core.db import make_engine, make_session_factory
from core.runtime import Runtime
from core.schemas import NUL_MESSAGE
from tests.api.conftest import CANARY, AppFactory, CapturedLogs, closed_port
from tests.json_client import JsonClient, JsonResponse
from web.problems import PROBLEM_MIME, TYPE_PREFIX

# What a leaked stack trace or exception would look like in a body.
LEAK_MARKERS = ("Traceback", 'File "', "RuntimeError", "OperationalError", "SELECT", CANARY)


def problem(r: JsonResponse, status: int, slug: str) -> dict[str, Any]:
    """Assert ``r`` is the problem ``slug`` and return its body."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM_MIME
    body: dict[str, Any] = json.loads(r.get_data())
    assert body["type"] == TYPE_PREFIX + slug
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["request_id"] == r.headers["X-Request-Id"]
    text = r.get_data(as_text=True)
    for marker in LEAK_MARKERS:
        assert marker not in text
    return body


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes that records how much of it was read."""

    def __init__(self, size: int, chunk: bytes = b"1,") -> None:
        self.size, self.chunk, self.read_bytes = size, chunk, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        if n <= 0:
            return 0
        data = (self.chunk * (n // len(self.chunk) + 1))[:n]
        buffer[:n] = data
        self.read_bytes += n
        return n


def post_stream(
    client: JsonClient, path: str, stream: io.IOBase, *, content_length: int | None = None
) -> JsonResponse:
    """POST ``stream`` as the raw WSGI input: declared length, or chunked when None."""
    environ: dict[str, Any] = {"wsgi.input": stream}
    headers = {}
    if content_length is None:
        headers["Transfer-Encoding"] = "chunked"
        # What gunicorn sets for a chunked request: the server ends the stream itself.
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(content_length)
    return client.post(
        path, headers=headers, content_type="application/json", environ_overrides=environ
    )


def test_unknown_path_is_404_problem_without_asking_for_credentials(client: JsonClient) -> None:
    r = client.get("/v1/staff/no-such-thing")
    problem(r, 404, "not-found")
    assert "WWW-Authenticate" not in r.headers


def test_wrong_method_is_405_with_allow_before_authentication(probe_client: JsonClient) -> None:
    # probe.private needs credentials for GET; a DELETE is answered as a 405 all the same.
    r = probe_client.delete("/probe/private")
    problem(r, 405, "method-not-allowed")
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD", "POST"}
    assert "WWW-Authenticate" not in r.headers


def test_missing_credentials_are_401_with_www_authenticate(probe_client: JsonClient) -> None:
    r = probe_client.get("/probe/private")
    problem(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_bearer_token_is_401(probe_client: JsonClient) -> None:
    r = probe_client.get("/probe/private", headers={"Authorization": "Bearer st_" + "A" * 43})
    problem(r, 401, "unauthenticated")


def test_declared_oversized_body_is_413_before_any_byte_is_read(
    probe_client: JsonClient, runtime: Runtime
) -> None:
    limit = runtime.settings.max_body_bytes
    body = CountingStream(limit + 1)
    r = post_stream(probe_client, "/probe/echo", body, content_length=limit + 1)
    detail = problem(r, 413, "payload-too-large")["detail"]
    assert str(limit) in detail
    assert body.read_bytes == 0


def test_413_comes_before_authentication(probe_client: JsonClient, runtime: Runtime) -> None:
    # No credential lookup is spent on a body that will be refused anyway.
    limit = runtime.settings.max_body_bytes
    body = CountingStream(limit + 1)
    r = post_stream(probe_client, "/probe/private", body, content_length=limit + 1)
    problem(r, 413, "payload-too-large")
    assert body.read_bytes == 0


def test_chunked_oversized_body_is_413_and_not_read_to_the_end(
    app_with: AppFactory,
) -> None:
    limit = 4096
    client = JsonClient(app_with(max_body_bytes=limit))
    body = CountingStream(limit * 1000)  # 4 MB offered, without a Content-Length
    r = post_stream(client, "/probe/echo", body)
    problem(r, 413, "payload-too-large")
    assert 0 < body.read_bytes <= limit + 64 * 1024


def test_chunked_body_over_the_limit_is_not_cut_short_and_parsed(app_with: AppFactory) -> None:
    # Valid JSON followed by whitespace past the cap: cut at the cap it would still parse, so
    # a silent cut would answer 200 to a body the service must refuse.
    limit = 4096
    client = JsonClient(app_with(max_body_bytes=limit))
    payload = json.dumps({"name": "a", "count": 1}).encode() + b" " * (limit * 4)
    r = post_stream(client, "/probe/echo", io.BytesIO(payload))
    problem(r, 413, "payload-too-large")


def test_chunked_body_under_the_limit_is_read(app_with: AppFactory) -> None:
    # The positive twin of the test above: a chunked body is not refused for being chunked.
    client = JsonClient(app_with(max_body_bytes=4096))
    payload = json.dumps({"name": "a", "count": 1}).encode()
    r = post_stream(client, "/probe/echo", io.BytesIO(payload))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json == {"name": "a", "count": 1}


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
def test_body_that_is_not_json_is_415(probe_client: JsonClient, content_type: str) -> None:
    r = probe_client.post(
        "/probe/echo", data='{"name": "a", "count": 1}', content_type=content_type
    )
    problem(r, 415, "unsupported-media-type")
    assert r.headers["Accept-Post"] == "application/json"


def test_415_is_not_judged_before_authentication(probe_client: JsonClient) -> None:
    # A caller without credentials learns nothing about what a private endpoint accepts.
    r = probe_client.post("/probe/private", data="x=1", content_type="text/plain")
    problem(r, 401, "unauthenticated")


def test_malformed_json_is_400_problem(probe_client: JsonClient) -> None:
    r = probe_client.post(
        "/probe/echo", data='{"name": "' + CANARY + '", ', content_type="application/json"
    )
    body = problem(r, 400, "bad-request")
    assert "json" in json.dumps(body.get("errors", body.get("detail", ""))).lower()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": "a", "count": 1, "extra": CANARY}, "extra", "Unknown field."),
        ({"name": 5, "count": 1}, "name", "Not a valid string."),
        ({"name": "a", "count": 2.5}, "count", "Not a valid integer."),
        ({"name": "a", "count": "2"}, "count", "Not a valid integer."),
        ({"name": "a", "count": True}, "count", "Not a valid integer."),
        ({"name": "a" * 41, "count": 1}, "name", None),
        ({"count": 1}, "name", "Missing data for required field."),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "float-for-int",
        "string-for-int",
        "bool-for-int",
        "too-long",
        "missing",
    ],
)
def test_invalid_json_body_is_422_with_field_errors(
    probe_client: JsonClient, payload: dict[str, Any], field: str, message: str | None
) -> None:
    r = probe_client.post("/probe/echo", json=payload)
    body = problem(r, 422, "validation-error")
    # Field errors sit under `errors`, keyed by field (not by webargs' location).
    assert set(body["errors"]) == {field}
    if message:
        assert body["errors"][field] == [message]


def test_nul_characters_are_422_not_a_database_error(probe_client: JsonClient) -> None:
    # PostgreSQL refuses U+0000 in text; the schema base refuses it first, for every field.
    r = probe_client.post("/probe/echo", json={"name": "a\u0000b", "count": 1})
    assert problem(r, 422, "validation-error")["errors"] == {"name": [NUL_MESSAGE]}
    r = probe_client.get("/probe/search?q=a%00b")
    assert problem(r, 422, "validation-error")["errors"] == {"q": [NUL_MESSAGE]}


def test_invalid_query_is_422_with_field_errors(probe_client: JsonClient) -> None:
    r = probe_client.get("/probe/search", query_string={"q": "x" * 41})
    body = problem(r, 422, "validation-error")
    assert body["errors"] == {"q": ["Length must be between 1 and 40."]}
    assert probe_client.get("/probe/search?q=ok").json == {"q": "ok"}


def test_valid_body_passes(probe_client: JsonClient) -> None:
    # Without this the 4xx tests could pass against an endpoint that refuses everything.
    r = probe_client.post("/probe/echo", json={"name": "a", "count": 2})
    assert r.status_code == 200
    assert r.json == {"name": "a", "count": 2}


def test_unexpected_exception_is_500_problem_without_details(
    probe_client: JsonClient, captured_logs: CapturedLogs
) -> None:
    r = probe_client.get("/probe/boom")
    problem(r, 500, "internal-error")
    logged = captured_logs.records()
    errors = [x for x in logged if x.get("event") == "unhandled_error"]
    assert [e["error"] for e in errors] == ["RuntimeError"]
    assert errors[0]["request_id"] == r.headers["X-Request-Id"]
    assert CANARY not in captured_logs.text()
    assert "Traceback" not in captured_logs.text()


def test_database_outage_is_503_with_retry_after(probe_client: JsonClient) -> None:
    r = probe_client.get("/probe/db-down")
    problem(r, 503, "service-unavailable")
    assert int(r.headers["Retry-After"]) > 0


def test_unreachable_database_is_503(app_with: AppFactory, runtime: Runtime) -> None:
    engine = make_engine(f"postgresql+psycopg://lantern@127.0.0.1:{closed_port()}/none")
    try:
        down = dataclasses.replace(
            runtime, engine=engine, session_factory=make_session_factory(engine)
        )
        r = JsonClient(app_with(down)).get("/probe/query-db")
    finally:
        engine.dispose()
    body = problem(r, 503, "service-unavailable")
    assert "127.0.0.1" not in json.dumps(body)
    assert r.headers["Retry-After"]


def test_failed_commit_is_503_and_still_has_headers(probe_client: JsonClient) -> None:
    # The unit of work commits after the view; its failure replaces the response, and the
    # replacement must still carry the security headers and the request id.
    r = probe_client.post("/probe/commit-fails")
    problem(r, 503, "service-unavailable")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_problem_types_are_stable(probe_client: JsonClient) -> None:
    # Clients branch on `type`; two requests for the same error get the same one.
    a = probe_client.get("/nope-1").json
    b = probe_client.get("/nope-2").json
    assert a is not None
    assert b is not None
    assert a["type"] == b["type"] == TYPE_PREFIX + "not-found"
    assert a["request_id"] != b["request_id"]
