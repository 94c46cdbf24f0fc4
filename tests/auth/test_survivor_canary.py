"""Canaries: a PIN, a duress PIN, a device label and every token issued to a survivor, run
through enrollment, login (good and bad), refresh, PIN changes and quick exit, never appear in
the logs nor in the database (where only hashes, digests and sealed bytes may be)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests.factories import auth_header, make_staff
from tests.json_client import JsonClient
from web.logs import configure_logging

CANARY_PIN = "739146285"
CANARY_NEW_PIN = "864213579"
CANARY_DURESS = "canary duress passphrase 7Q"
CANARY_LABEL = "CanaryLabelKestrel"
TABLES = (
    "survivors",
    "survivor_devices",
    "survivor_refresh_tokens",
    "enrollment_codes",
    "audit_events",
    "jobs",
    "staff_notices",
)


@pytest.fixture
def log_buffer(app: Flask) -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("DEBUG", stream=buf)  # after create_app, which configured its own
    yield buf
    configure_logging(logging.getLevelName(logging.INFO))


def _dump(session: Session) -> str:
    """Every value of every row of the survivor tables, as text and as hex for bytes."""
    parts: list[str] = []
    for table in TABLES:
        for row in session.execute(text(f"SELECT * FROM {table}")):
            for value in row:
                if isinstance(value, (bytes, memoryview)):
                    raw = bytes(value)
                    parts.extend([raw.hex(), raw.decode("latin-1")])
                else:
                    parts.append(str(value))
    return "\n".join(parts)


def test_survivor_secrets_never_reach_logs_or_database(
    client: JsonClient, db_session: Session, runtime: Runtime, log_buffer: io.StringIO
) -> None:
    _, staff_token = make_staff(db_session, runtime)
    issued: list[str] = []

    def post(path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = auth_header(token) if token else {}
        return client.post(path, json=body, headers=headers)

    code = post("/v1/staff/enrollment-codes", token=staff_token).json["code"]
    enrolled = post(
        "/v1/survivor/enroll",
        {
            "code": code,
            "pin": CANARY_PIN,
            "duress_pin": CANARY_DURESS,
            "device_label": CANARY_LABEL,
        },
    ).json
    handle = enrolled["account_handle"]
    issued += [enrolled["access_token"], enrolled["refresh_token"]]

    # A failed login, a good one, a duress one.
    assert (
        post("/v1/survivor/login", {"account_handle": handle, "pin": "550917"}).status_code == 401
    )
    good = post(
        "/v1/survivor/login",
        {"account_handle": handle, "pin": CANARY_PIN, "device_label": CANARY_LABEL},
    ).json
    decoy = post("/v1/survivor/login", {"account_handle": handle, "pin": CANARY_DURESS}).json
    issued += [good["access_token"], good["refresh_token"], decoy["access_token"]]
    refreshed = post("/v1/survivor/token/refresh", {"refresh_token": good["refresh_token"]}).json
    issued += [refreshed["access_token"], refreshed["refresh_token"]]
    # Reuse of a spent refresh token (revokes that device) and a refused one.
    post("/v1/survivor/token/refresh", {"refresh_token": good["refresh_token"]})
    # PIN checks that fail and succeed.
    token = enrolled["access_token"]
    post("/v1/survivor/pin", {"current_pin": CANARY_DURESS, "new_pin": CANARY_NEW_PIN}, token)
    post("/v1/survivor/pin", {"current_pin": CANARY_PIN, "new_pin": CANARY_NEW_PIN}, token)
    client.get("/v1/survivor/devices", headers=auth_header(token))
    assert post("/v1/survivor/quick-exit", token=token).status_code == 204
    # A request with a spent token in the Authorization header is logged too (as a 401).
    client.get("/v1/survivor/devices", headers=auth_header(token))

    canaries = [
        CANARY_PIN,
        CANARY_NEW_PIN,
        CANARY_DURESS,
        CANARY_LABEL,
        handle,
        code,
        code.replace("-", ""),
        *issued,
    ]
    logs = log_buffer.getvalue()
    assert '"route": "/v1/survivor/login"' in logs  # the capture did see these requests
    for canary in canaries:
        assert canary not in logs, f"leaked into logs: {canary[:6]}..."
        # Token bodies without their prefix too (a log could strip "sa_").
        assert canary[3:] not in logs or len(canary) < 20

    db_session.expire_all()
    dump = _dump(db_session)
    assert "argon2id" in dump  # the dump holds the PIN hashes
    for canary in canaries:
        assert canary not in dump, f"stored in clear: {canary[:6]}..."
