"""Logs: one JSON object per line, a request id on each, no secrets or PII, no tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tests.api.conftest import AppFactory, CapturedLogs
from tests.json_client import JsonClient
from web.logs import make_handler

TOKEN = "sa_Zk3pQ9vX2mL7rT4wY8nB1cD6fG0hJ5kA"
PIN = "731946"
DURESS_PIN = "582013"
PASSWORD = "Tr0ub4dor&3-horse"
PHONES = ("+447700900123", "07700 900123", "+1 (312) 555-0100")
API_KEY = "pk_k7f3a.QmV5U2VjcmV0S2V5VmFsdWVGb3JUZXN0czEyMw"
SHORT_API_KEY = "sk_live_4f9Kq2"
BODY_TEXT = "he said he would find me at my sister's flat"
NAME = "Ruth at 14 Elm Road"

SECRETS = (TOKEN, PIN, DURESS_PIN, PASSWORD, *PHONES, API_KEY, SHORT_API_KEY, BODY_TEXT, NAME)
# The phone numbers' digits, however they are spaced, must not survive either.
PHONE_DIGITS = ("7700900123", "3125550100")


class Opaque:
    """An object the formatter would render with str(): the redactor must render it first."""

    def __str__(self) -> str:
        return f"Opaque(phone={PHONES[0]}, token={TOKEN})"


@pytest.fixture
def redacting_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger("lantern.test.redaction")
    handler = make_handler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def assert_clean(output: str) -> None:
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines, "nothing was logged, so nothing was checked"
    text = "\n".join(json.dumps({k: v for k, v in r.items() if k != "time"}) for r in lines)
    for secret in SECRETS:
        assert secret not in text, secret
    compact = "".join(ch for ch in text if ch.isdigit())
    for digits in PHONE_DIGITS:
        assert digits not in compact, digits


def test_secrets_in_the_message_are_redacted(
    redacting_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = redacting_logger
    log.info(f"Authorization: Bearer {TOKEN}")
    log.info(f"survivor entered PIN {PIN}; duress_pin={DURESS_PIN}")
    log.info(f'login {{"password": "{PASSWORD}"}}')
    log.info(f"sms to {PHONES[0]}, call back {PHONES[1]} or {PHONES[2]}")
    log.info(f"partner key {API_KEY} and api_key={SHORT_API_KEY}")
    log.info(f"bare token {TOKEN} and key {API_KEY}")
    log.info(f"GET /v1/survivor/messages?text={BODY_TEXT.replace(' ', '+')}")
    assert_clean(stream.getvalue())


def test_secrets_in_the_arguments_are_redacted(
    redacting_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = redacting_logger
    log.info("auth header %s", f"Bearer {TOKEN}")
    log.info("pin %s duress pin %s", PIN, DURESS_PIN)
    log.info("password=%s", PASSWORD)
    log.info("numbers %s %s %s", *PHONES)
    log.info("api_key %s and %s", SHORT_API_KEY, API_KEY)
    log.info("%(phone)s", {"phone": PHONES[2]})
    assert_clean(stream.getvalue())


def test_secrets_in_extra_fields_are_redacted(
    redacting_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = redacting_logger
    log.info(
        "event",
        extra={
            "pin": PIN,
            "duress_pin": DURESS_PIN,
            "password": PASSWORD,
            "authorization": f"Bearer {TOKEN}",
            "api_key": SHORT_API_KEY,
            "to": PHONES[0],  # a harmless name: the value itself gives it away
            "caller": PHONES[1],
            "details": {"phone_number": PHONES[2], "notes": [BODY_TEXT], "key": API_KEY},
            "request_body": BODY_TEXT,
            "body": {"text": BODY_TEXT},
            "as_number": 447700900123,
            "opaque": Opaque(),
            "listed": [PHONES[0], {"password": PASSWORD}],
        },
    )
    output = stream.getvalue()
    assert_clean(output)
    record = json.loads(output)
    # Harmless values survive: redaction is targeted, not a blank line.
    log.info("counted", extra={"count": 3, "event": "probe", "status_code": 422})
    kept = json.loads(stream.getvalue().splitlines()[-1])
    assert (kept["count"], kept["event"], kept["status_code"]) == (3, "probe", 422)
    assert record["message"] == "event"


def test_tracebacks_are_never_logged(
    redacting_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = redacting_logger
    try:
        raise ValueError(f"token {TOKEN} for {PHONES[0]}")
    except ValueError:
        log.exception("failed")
    log.info("here", stack_info=True)
    output = stream.getvalue()
    assert_clean(output)
    assert "Traceback" not in output
    assert "Stack (most recent call last)" not in output
    assert 'File "' not in output
    first = json.loads(output.splitlines()[0])
    assert first["error_class"] == "ValueError"


def test_every_line_is_one_json_object_with_a_request_id(
    probe_client: JsonClient, captured_logs: CapturedLogs
) -> None:
    r = probe_client.get("/probe/log")
    assert r.status_code == 200
    records = captured_logs.records()
    rid = r.headers["X-Request-Id"]
    assert len(rid) >= 16
    mine = [x for x in records if x.get("request_id") == rid]
    # The view's two loggers and the access line, all tagged with the same id.
    assert [x["message"] for x in mine] == [
        "first line",
        "a library speaks",
        "third line",
        "request",
    ]
    assert {x["logger"] for x in mine} == {"lantern.probe", "some.library", "lantern.access"}
    for x in records:
        assert {"level", "logger", "message", "time"} <= set(x)
    access_line = mine[-1]
    assert access_line["route"] == "/probe/log"
    assert access_line["status_code"] == 200
    assert isinstance(access_line["duration_ms"], float)


def test_request_id_is_the_same_in_header_body_and_logs(
    probe_client: JsonClient, captured_logs: CapturedLogs
) -> None:
    r = probe_client.get("/probe/boom")
    rid = r.headers["X-Request-Id"]
    assert r.json is not None
    assert r.json["request_id"] == rid
    tagged = [x for x in captured_logs.records() if x.get("request_id") == rid]
    assert {x["message"] for x in tagged} == {
        "about to fail for /probe/boom?[redacted]",
        "unhandled error",
        "request",
    }


def test_request_ids_are_ours_and_unique(
    probe_client: JsonClient, captured_logs: CapturedLogs
) -> None:
    forged = "forged-id-0001"
    ids = {
        probe_client.get("/healthz", headers={"X-Request-Id": forged}).headers["X-Request-Id"]
        for _ in range(5)
    }
    assert len(ids) == 5
    assert forged not in ids
    assert forged not in captured_logs.text()
    outside = logging.getLogger("lantern.test")
    outside.info("outside any request")
    assert captured_logs.records()[-1]["request_id"] is None


def test_requests_carrying_secrets_leave_none_in_the_logs(
    probe_client: JsonClient, captured_logs: CapturedLogs
) -> None:
    secret_body = {
        "name": BODY_TEXT,
        "count": 1,
        "pin": PIN,
        "password": PASSWORD,
        "phone": PHONES[0],
        "api_key": API_KEY,
    }
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "X-Api-Key": SHORT_API_KEY,
        "X-Phone": PHONES[1],
        "User-Agent": f"app/1.0 ({PHONES[2]})",
    }
    query = {"pin": DURESS_PIN, "phone": PHONES[2], "q": BODY_TEXT}
    sent = [
        # Reaches the careless view, which logs body, query and headers as they came.
        probe_client.post(
            "/probe/echo", json={"name": NAME, "count": 1}, headers=headers, query_string=query
        ),
        probe_client.post("/probe/echo", json=secret_body, headers=headers, query_string=query),
        probe_client.post(
            "/probe/echo",
            data=json.dumps(secret_body)[:-3],
            content_type="application/json",
            headers=headers,
        ),
        probe_client.post("/probe/echo", data=BODY_TEXT, content_type="text/plain"),
        probe_client.get("/probe/private", headers=headers, query_string=query),
        probe_client.get("/probe/boom", headers=headers, query_string=query),
        probe_client.get("/probe/db-down", headers=headers, query_string=query),
        probe_client.get(f"/v1/survivor/{PHONES[0]}", headers=headers, query_string=query),
        probe_client.post("/probe/private", json=secret_body, headers=headers),
    ]
    assert [r.status_code for r in sent] == [200, 422, 400, 415, 401, 500, 503, 404, 401]
    assert_clean(captured_logs.text())
    messages = [x["message"] for x in captured_logs.records()]
    assert messages.count("request") == len(sent)  # one access line each
    # The careless lines were written (redacted), so the check above had something to find.
    assert any(m.startswith("echo ") for m in messages)
    assert any(m.startswith("about to fail") for m in messages)


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "remote_addr", "scheme"),
    [
        (0, "198.51.100.7, 203.0.113.9", "127.0.0.1", "http"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9", "https"),
        (2, "198.51.100.7, 203.0.113.9", "198.51.100.7", "https"),
    ],
)
def test_client_address_comes_only_through_trusted_proxies(
    app_with: AppFactory, proxies: int, forwarded_for: str, remote_addr: str, scheme: str
) -> None:
    client = JsonClient(app_with(trusted_proxies=proxies))
    r = client.get(
        "/probe/remote-addr",
        headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https, https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert r.json == {"remote_addr": remote_addr, "scheme": scheme}


def test_object_ids_survive_redaction_but_phone_numbers_next_to_them_do_not() -> None:
    """Ids make a log line useful; the phone pattern must not eat their digit runs."""
    import uuid

    from web.logs import scrub

    ids = [str(uuid.UUID(int=n)) for n in (1234567890123, 2**100 + 7)] + [str(uuid.uuid4())]
    for value in ids:
        line = scrub(f"sms {value} to +447911123456 and 07911 123456")
        assert value in line
        assert "7911" not in line
