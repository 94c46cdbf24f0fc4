"""Keyset pagination (``core.pages``): one cursor format, one parameter, one next-cursor field,
and a malformed cursor is a 422 problem on every paged list, never a server error."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from api.contract import contract
from core import pages
from core.runtime import Runtime
from tests.factories import auth_header
from tests.identities import build_world
from tests.json_client import JsonClient
from web.problems import PROBLEM_MIME

AT = dt.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=dt.UTC)
ID = uuid.UUID("2f6b7f0e-3c1d-4e5f-8a9b-0c1d2e3f4a5b")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _payload(*parts: Any) -> str:
    return _b64(json.dumps(list(parts)).encode())


GOOD = pages.encode(pages.Position(AT, ID))

# Each is refused: (what, cursor as sent). The payload ones are well-formed base64.
MALFORMED: list[tuple[str, str]] = [
    ("empty", ""),
    ("not base64", "%%%"),
    ("base64 of nothing useful", "bm9wZQ"),
    ("standard base64 alphabet", base64.b64encode(b'["a/b+c"]').decode()),
    ("padding kept", GOOD + "=" * (-len(GOOD) % 4) if len(GOOD) % 4 else GOOD + "=="),
    ("one character short", GOOD[:-1]),
    ("one character more", GOOD + "A"),
    ("too long", "A" * (pages.MAX_CURSOR_CHARS + 4)),
    ("not JSON", _b64(b"2026-03-01|" + str(ID).encode())),
    ("invalid UTF-8", _b64(b'["\xff\xfe", "x"]')),
    ("NUL in the payload", _payload("2026-03-01T00:00:00+00:00\x00", str(ID))),
    ("lone surrogate in the payload", _b64(b'["\\ud800", "' + str(ID).encode() + b'"]')),
    ("huge number", _b64(b"[" + b"9" * 5000 + b', "x"]')),
    ("huge float", _b64(b'[1e999, "' + str(ID).encode() + b'"]')),
    ("numbers", _payload(1, 2)),
    ("three parts", _payload(AT.isoformat(), str(ID), "x")),
    ("an object", _b64(json.dumps({"at": AT.isoformat(), "id": str(ID)}).encode())),
    ("naive time", _payload("2026-03-01T12:30:05", str(ID))),
    ("time past the calendar's end", _payload("9999-12-31T23:59:59-23:59", str(ID))),
    ("time before its start", _payload("0001-01-01T00:00:00+23:59", str(ID))),
    (
        "another offset",
        _payload(AT.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat(), str(ID)),
    ),
    ("not a uuid", _payload(AT.isoformat(), "9" * 40)),
    ("uuid spelled otherwise", _payload(AT.isoformat(), ID.hex)),
    ("the old message cursor", _b64(f"{AT.isoformat()}|{ID}".encode())),
]

# Sent as raw query text: a lone surrogate cannot be spelled in UTF-8 (%ED%A0%80 decodes to
# U+FFFD), NUL can, and so can a 5,000-digit number.
RAW_QUERIES = ["%ED%A0%80", "%00", GOOD[:10] + "%00" + GOOD[10:], "9" * 5000, "%F0%9F%98%80"]


def test_a_cursor_names_its_position_and_nothing_else() -> None:
    assert pages.decode(GOOD) == pages.Position(AT, ID)
    # The time is kept in UTC, to the microsecond, whatever zone it was given in.
    local = AT.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert pages.encode(pages.Position(local, ID)) == GOOD
    assert all(c.isalnum() or c in "-_" for c in GOOD)
    assert len(GOOD) <= pages.MAX_CURSOR_CHARS
    # The partner feed's cursors from before keep working: the same JSON, the same base64.
    assert _b64(json.dumps([AT.isoformat(), str(ID)]).encode()) == GOOD


@pytest.mark.parametrize(("what", "cursor"), MALFORMED, ids=[w for w, _ in MALFORMED])
def test_a_malformed_cursor_names_no_position(what: str, cursor: str) -> None:
    assert pages.decode(cursor) is None, what


def test_raw_oddities_name_no_position() -> None:
    for cursor in ("\ud800", "\x00", GOOD + "\x00", "é" + GOOD, " " + GOOD, GOOD + "\n"):
        assert pages.decode(cursor) is None, repr(cursor)


def _paged_lists(world: Any) -> list[tuple[str, str]]:
    t = world.tokens
    return [
        ("/v1/staff/notices", t["A1"]),
        ("/v1/survivor/access-log", t["S1"]),
        ("/v1/survivor/messages", t["S1"]),
        (f"/v1/staff/survivors/{world.s1.id}/messages", t["A1"]),
        ("/v1/partner/alerts", t["P1"]),
    ]


def test_every_paged_list_refuses_a_malformed_cursor_as_a_problem(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    world = build_world(db_session, runtime)
    db_session.commit()
    failures = []
    for path, token in _paged_lists(world):
        headers = auth_header(token or "")
        assert client.get(f"{path}?limit=1", headers=headers).status_code == 200, path
        sent = [urllib.parse.quote(c, safe="") for _, c in MALFORMED] + RAW_QUERIES
        for query in sent:
            r = client.get(f"{path}?cursor={query}", headers=headers)
            if r.status_code != 422 or r.mimetype != PROBLEM_MIME:
                failures.append(f"{path} cursor={query[:40]} -> {r.status_code}")
            elif "cursor" not in json.dumps((r.json or {}).get("errors", {})):
                failures.append(f"{path} cursor={query[:40]}: the problem names no cursor")
    assert failures == []


def test_every_paged_list_has_the_one_parameter_and_the_one_field(app: Flask) -> None:
    spec = contract(app)
    schemas = spec["components"]["schemas"]
    paged = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue  # the path's own parameters
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if not names & {"limit", "cursor", "after", "before"}:
                continue
            ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
            page = schemas[ok["$ref"].rsplit("/", 1)[1]]
            if "next_cursor" not in page["properties"]:
                continue  # a bounded list that is not paged (the admin's deliveries)
            paged.append(f"{method.upper()} {path}")
            assert "cursor" in names, path
            assert not names & {"after", "before"}, path
            cursor = next(p for p in operation["parameters"] if p["name"] == "cursor")
            assert cursor["description"] == pages.CURSOR_DOC
            assert cursor["schema"] == {"type": "string", "minLength": 1, "maxLength": 200}
            assert "next_cursor" in page["required"], path
            assert page["properties"]["next_cursor"] == {
                "type": "string",
                "nullable": True,
                "description": pages.NEXT_CURSOR_DOC,
            }
    assert sorted(paged) == sorted(
        f"GET /v1{p}"
        for p in (
            "/staff/notices",
            "/survivor/access-log",
            "/survivor/messages",
            "/staff/survivors/{survivor_id}/messages",
            "/partner/alerts",
        )
    )
