"""Canary credentials run through every staff auth flow never reach the printed logs.

The root logger is pointed at a buffer through ``web.logs.configure_logging`` (the same JSON,
redacting handler production uses), so what is asserted is exactly what would be printed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.factories_staff import code, fresh_code, login, make_member, post
from tests.json_client import JsonClient
from web.logs import configure_logging

CANARY_PASSWORD = "Zebra-Pumpkin-8812-orbit-QXJ"
CANARY_NEW_PASSWORD = "Walrus-Teacup-5531-nebula-VKP"
CANARY_WRONG = "Ferret-Oboe-2219-canyon-WMZ"
CANARY_EMAIL = "quinn.canary-7731@lantern.test"


@pytest.fixture
def printed(app: Flask) -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("DEBUG", stream=buf)  # the most verbose the service can be set to
    yield buf
    configure_logging("INFO")


def test_canary_credentials_never_reach_the_logs(
    printed: io.StringIO,
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
) -> None:
    secrets: list[str] = [CANARY_PASSWORD, CANARY_NEW_PASSWORD, CANARY_WRONG, CANARY_EMAIL]
    admin = make_member(db_session, runtime, role="admin")
    admin_token = login(client, admin, clock)
    secrets.append(admin_token)

    invited = post(
        client,
        "/v1/admin/invitations",
        {"email": CANARY_EMAIL, "role": "advocate", "display_name": "Quinn Example"},
        admin_token,
    ).json
    assert invited is not None
    secrets.append(invited["invitation_token"])
    accepted = post(
        client,
        "/v1/staff/invitations/accept",
        {"invitation_token": invited["invitation_token"], "password": CANARY_PASSWORD},
    )
    assert accepted.status_code == 201

    # Wrong password, then the enrolment login.
    wrong = post(client, "/v1/staff/login", {"email": CANARY_EMAIL, "password": CANARY_WRONG})
    assert wrong.status_code == 401
    ticket = post(client, "/v1/staff/login", {"email": CANARY_EMAIL, "password": CANARY_PASSWORD})
    enrol_token = ticket.json["login_token"]
    secrets.append(enrol_token)
    uri = post(client, "/v1/staff/totp/enroll", None, enrol_token).json["otpauth_uri"]
    seed = parse_qs(urlparse(uri).query)["secret"][0]
    secrets.append(seed)
    confirm_code = code(seed, clock.now())
    secrets.append(confirm_code)
    confirmed = post(client, "/v1/staff/totp/confirm", {"code": confirm_code}, enrol_token).json
    assert confirmed is not None
    recovery_codes = confirmed["recovery_codes"]
    secrets += [confirmed["session_token"], *recovery_codes]

    # A code login, a wrong code, a recovery-code login.
    step1 = post(client, "/v1/staff/login", {"email": CANARY_EMAIL, "password": CANARY_PASSWORD})
    login_token = step1.json["login_token"]
    secrets.append(login_token)
    wrong_code = "000000" if code(seed, clock.now()) != "000000" else "111111"
    assert (
        post(
            client, "/v1/staff/login/code", {"login_token": login_token, "code": wrong_code}
        ).status_code
        == 401
    )
    totp_code = fresh_code(seed, clock)
    secrets.append(totp_code)
    session_token = post(
        client, "/v1/staff/login/code", {"login_token": login_token, "code": totp_code}
    ).json["session_token"]
    secrets.append(session_token)
    step1 = post(client, "/v1/staff/login", {"email": CANARY_EMAIL, "password": CANARY_PASSWORD})
    secrets.append(step1.json["login_token"])
    by_recovery = post(
        client,
        "/v1/staff/login/code",
        {"login_token": step1.json["login_token"], "recovery_code": recovery_codes[0]},
    )
    assert by_recovery.status_code == 200
    secrets.append(by_recovery.json["session_token"])

    # Step-up, password change, logout.
    step_code = fresh_code(seed, clock)
    secrets.append(step_code)
    assert post(client, "/v1/staff/step-up", {"code": step_code}, session_token).status_code == 200
    change_code = fresh_code(seed, clock)
    secrets.append(change_code)
    changed = post(
        client,
        "/v1/staff/password",
        {
            "current_password": CANARY_PASSWORD,
            "code": change_code,
            "new_password": CANARY_NEW_PASSWORD,
        },
        session_token,
    )
    assert changed.status_code == 200
    assert post(client, "/v1/staff/logout", None, session_token).status_code == 204

    records = [json.loads(line) for line in printed.getvalue().splitlines()]
    # The capture works: the flows above did log, through this handler.
    events = {r.get("event") for r in records}
    assert {"staff_login", "staff_login_failed", "staff_logout", "request"} <= events
    # Timestamps are dropped only because their microseconds could match a 6-digit code.
    output = "\n".join(json.dumps({k: v for k, v in r.items() if k != "time"}) for r in records)
    for secret in secrets:
        assert secret not in output, f"a credential reached the logs: {secret[:4]}..."
    for recovery_code in recovery_codes:
        assert recovery_code.replace("-", "") not in output
