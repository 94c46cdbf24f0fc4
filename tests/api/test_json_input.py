"""Request JSON that would crash the stack is a 422 problem, before login and after it.

Outside testing found a lone surrogate (UnicodeEncodeError), nesting a few hundred levels
deep (RecursionError, then gunicorn's own error page) and a 5,000-digit PIN (ValueError) all
answered 500. ``web.json_input`` parses every request body once, bounded; these tests send the
shapes the attacker sent, to the routes they sent them to.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests.api.conftest import CapturedLogs
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from web import json_input
from web.problems import PROBLEM_MIME, TYPE_PREFIX

SURROGATE = '"\\ud800"'
DEEP_FIELD = "[" * 326 + "]" * 326
HUGE = "9" * 5000

# Bodies with a placeholder where the shape goes; every one is refused the same way.
PUBLIC_BODIES = {
    "/v1/survivor/login": '{"account_handle": %s, "pin": "482915", "device_label": "x"}',
    "/v1/survivor/enroll": '{"code": "ABCD-EFGH-JKMN", "pin": %s}',
    "/v1/staff/login": '{"email": %s, "password": "correct horse battery staple"}',
    "/v1/staff/invitations/accept": '{"invitation_token": "t", "password": %s}',
}
SHAPES = {
    "lone-surrogate": SURROGATE,
    "surrogate-key": '{"\\udfff": 1}',
    "deep": DEEP_FIELD,
    "huge-int": HUGE,
    "infinity": "1e999",
    "nan": "NaN",
}


def assert_clean_refusal(r: Any, *, statuses: tuple[int, ...] = (422,)) -> None:
    assert r.status_code in statuses, r.get_data(as_text=True)[:300]
    assert r.mimetype == PROBLEM_MIME
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in r.headers
    body = r.get_json()
    assert body["status"] == r.status_code
    assert body["type"].startswith(TYPE_PREFIX)


def assert_no_crash_logged(logs: CapturedLogs) -> None:
    records = logs.records()  # every line is one JSON object: no multi-line traceback
    assert not [r for r in records if r.get("event") == "unhandled_error"]
    assert "Traceback" not in logs.text()


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("path", sorted(PUBLIC_BODIES))
def test_public_routes_refuse_crashing_json_before_login(
    client: JsonClient, captured_logs: CapturedLogs, path: str, shape: str
) -> None:
    r = client.post(path, data=PUBLIC_BODIES[path] % SHAPES[shape], content_type="application/json")
    assert_clean_refusal(r)
    assert_no_crash_logged(captured_logs)


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b"{" * 100_000])
def test_a_deep_body_is_refused_whole(
    client: JsonClient, captured_logs: CapturedLogs, body: bytes
) -> None:
    r = client.post("/v1/survivor/login", data=body, content_type="application/json")
    assert_clean_refusal(r)
    assert "nest" in r.json["detail"]
    assert_no_crash_logged(captured_logs)


@pytest.fixture
def token(db_session: Session, runtime: Runtime) -> str:
    """A survivor's access token (on an advocate's caseload), committed for the app to see."""
    advocate, _ = make_staff(db_session, runtime)
    _, survivor_token = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()
    return survivor_token


def test_survivor_content_routes_refuse_crashing_json_after_login(
    client: JsonClient, token: str, captured_logs: CapturedLogs
) -> None:
    for path, template in {
        "/v1/survivor/messages": '{"body": %s}',
        "/v1/survivor/journal/entries": '{"description": %s}',
    }.items():
        for shape in ("lone-surrogate", "deep", "huge-int"):
            r = client.post(
                path,
                data=template % SHAPES[shape],
                content_type="application/json",
                headers=auth_header(token),
            )
            assert_clean_refusal(r)
    assert_no_crash_logged(captured_logs)


def test_query_strings_with_the_same_shapes_are_refused(
    client: JsonClient, token: str, captured_logs: CapturedLogs
) -> None:
    # Query strings are text: a lone surrogate cannot be spelled in UTF-8 (%ED%A0%80 is
    # invalid and decodes to U+FFFD), NUL can, and so can a 5,000-digit number.
    for query in ("limit=" + HUGE, "limit=%00", "cursor=%ED%A0%80", "limit=1e999", "limit=NaN"):
        r = client.get(f"/v1/survivor/messages?{query}", headers=auth_header(token))
        assert_clean_refusal(r, statuses=(400, 422))
    assert_no_crash_logged(captured_logs)


def test_headers_with_odd_bytes_are_refused_cleanly(
    client: JsonClient, captured_logs: CapturedLogs
) -> None:
    for value in ("Bearer sa_\xff\xfe", "Bearer " + "9" * 5000, "Bearer pk_\x7f.\x01"):
        r = client.get("/v1/survivor/messages", headers={"Authorization": value})
        assert_clean_refusal(r, statuses=(401,))
    for value in ("\xff\xfe", "9" * 5000, "\x7f\x01"):
        r = client.post(
            "/v1/sms/inbound",
            data="Body=x",
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": value},
        )
        assert_clean_refusal(r, statuses=(403,))
    assert_no_crash_logged(captured_logs)


# --- the parser itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        SURROGATE,
        '"\\udc00 trailing low"',
        '{"a": ["ok", {"b": "\\ud83d"}]}',  # a high half without its low half
        '{"\\ud800": 1}',
        "[" * (json_input.MAX_DEPTH + 1) + "]" * (json_input.MAX_DEPTH + 1),
        '{"a": ' * 40 + "1" + "}" * 40,
        HUGE,
        str(2**63),
        str(-(2**63)),
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        "-Infinity",
    ],
)
def test_loads_refuses(text: str) -> None:
    with pytest.raises(json_input.UnacceptableJson):
        json_input.loads(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
        ("[" * json_input.MAX_DEPTH + "]" * json_input.MAX_DEPTH, json.loads("[" * 32 + "]" * 32)),
        # Brackets inside strings do not nest, escaped quotes included.
        (json.dumps({"a": "[" * 5000 + '\\"{' * 100}), {"a": "[" * 5000 + '\\"{' * 100}),
        (str(2**63 - 1), 2**63 - 1),
        (str(-(2**63) + 1), -(2**63) + 1),
        ("1.5e300", 1.5e300),
        ('"a\\u0000b"', "a\x00b"),  # NUL is text; the project Schema refuses it per field
    ],
)
def test_loads_accepts(text: str, value: object) -> None:
    assert json_input.loads(text) == value


def test_loads_needs_utf8() -> None:
    with pytest.raises(ValueError, match="utf-8"):
        json_input.loads('"caf\u00e9"'.encode("latin-1"))
