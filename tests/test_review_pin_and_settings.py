"""An outside tester's return visit (issue 12): PIN changes as a duress-PIN oracle, and a
Twilio stand-in in production. Each test failed on the commit that first closed issue 12.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from auth import attempts
from core.crypto import KeyRing
from core.runtime import Runtime
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_header,
    make_survivor_account,
)
from tests.json_client import JsonClient, JsonResponse

S = "/v1/survivor"
LOGIN = f"{S}/login"


def _login(
    client: JsonClient, handle: str, pin: str, address: str = "203.0.113.9"
) -> JsonResponse:
    return client.post(
        LOGIN,
        json={"account_handle": handle, "pin": pin},
        environ_base={"REMOTE_ADDR": address},
    )


def _session(client: JsonClient, handle: str, pin: str) -> dict[str, str]:
    r = _login(client, handle, pin)
    assert r.status_code == 200, r.get_data(as_text=True)
    return auth_header(r.json["access_token"])


# --- [medium] a real session tests guesses at the duress PIN without any throttle --------------


def test_guesses_at_the_duress_pin_through_pin_changes_are_throttled(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """Someone who forced her real PIN wants her duress PIN too (then a later forced login
    with it can be recognised, and its alarm ignored). ``POST /v1/survivor/pin`` compares the
    new PIN with the duress PIN and answers 422 "Must differ from your duress PIN" when they
    match. The current PIN is right every time, so the slot taken is given back: any number
    of guesses, each changing the PIN to the last miss."""
    _owner, handle = make_survivor_account(db_session, runtime)
    db_session.commit()
    h = _session(client, handle, SURVIVOR_PIN)
    current = SURVIVOR_PIN
    guesses = [f"{n:06d}" for n in range(240517, 240517 + 12 * 7919, 7919)]
    refused: JsonResponse | None = None
    for guess in guesses:  # twelve misses: more than twice the PIN allowance
        r = client.post(f"{S}/pin", json={"current_pin": current, "new_pin": guess}, headers=h)
        if r.status_code != 204:
            refused = r
            break
        current = guess
    # PIN changes are counted, right or not: a few a day, then an open 429 with Retry-After
    # that says nothing about the duress PIN.
    assert refused is not None, "twelve PIN changes in a row were all evaluated"
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    r = client.post(
        f"{S}/pin", json={"current_pin": current, "new_pin": SURVIVOR_DURESS_PIN}, headers=h
    )
    # The guess that would have given the duress PIN away is never compared with it.
    assert r.status_code == 429
    assert not (r.status_code == 422 and "new_pin" in (r.json or {}).get("errors", {}))


def test_pin_changes_are_limited_alike_in_a_decoy(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """The limit holds per account, so a decoy meets it exactly as a real account does (and
    its changes never use up the real account's)."""
    _owner, handle = make_survivor_account(db_session, runtime)
    db_session.commit()
    answers = {}
    for label, pin in (("decoy", SURVIVOR_DURESS_PIN), ("real", SURVIVOR_PIN)):
        h, current, seen = _session(client, handle, pin), pin, []
        for n in range(attempts.PIN_CHANGES.allowance + 1):
            new = f"{317529 + 1013 * n:06d}" if label == "real" else f"{628417 + 1013 * n:06d}"
            r = client.post(f"{S}/pin", json={"current_pin": current, "new_pin": new}, headers=h)
            seen.append(r.status_code)
            if r.status_code == 204:
                current = new
        answers[label] = seen
    allowed = [204] * attempts.PIN_CHANGES.allowance
    assert answers == {"decoy": [*allowed, 429], "real": [*allowed, 429]}


# --- [medium] production accepts a stand-in Twilio -----------------------------------------------


def test_production_refuses_a_twilio_api_pointed_at_a_local_mock(
    tmp_path: Any, keyring: KeyRing
) -> None:
    """``LANTERN_TWILIO_API_BASE_URL=http://127.0.0.1:4010`` (the Prism mock the test stacks
    use) with every other production setting right: the app and ``lantern worker`` start,
    check-in texts go to the mock and never to a phone, missed check-ins escalate."""
    from api.app import create_app
    from core.crypto import OWASP_ARGON2_MIN_MEMORY_KIB, OWASP_ARGON2_MIN_TIME_COST
    from core.errors import ConfigurationError
    from core.keyfiles import environment_values
    from core.settings import Settings

    values: dict[str, Any] = {
        "env": "production",
        "database_url": "postgresql+psycopg://lantern@db.invalid:5432/lantern",
        "public_base_url": "https://lantern.example.org",
        **environment_values(keyring),
        "instance_path": str(tmp_path / "instance"),
        "argon2_time_cost": OWASP_ARGON2_MIN_TIME_COST,
        "argon2_memory_kib": OWASP_ARGON2_MIN_MEMORY_KIB,
        "sms_backend": "twilio",
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": "not-a-real-token",
        "twilio_messaging_service_sid": "MG" + "0" * 32,
        "twilio_api_base_url": "http://127.0.0.1:4010",
    }
    settings = Settings(**values)
    with pytest.raises(ConfigurationError, match="LANTERN_TWILIO_API_BASE_URL"):
        create_app(settings)
