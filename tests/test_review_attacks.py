"""An outside tester's return visit (issue 12): attacks that still get through.

Each test here is an attack written as the attacker would run it, asserting what the defence
should make of it. They were written against the commit that closed issue 12 and fail there;
each names the finding it reproduces in the review report (severity in brackets).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.crypto import KeyRing, phone_index
from core.runtime import Runtime
from messaging.models import OutboundSms
from tests.decoy_exits import run_all_jobs
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_header,
    make_staff,
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


# --- [high] a decoy never texts the phone it is used on ------------------------------------------


def _texts_to(db_session: Session, keyring: KeyRing, number: str) -> int:
    db_session.expire_all()
    return int(
        db_session.scalar(
            select(func.count())
            .select_from(OutboundSms)
            .where(OutboundSms.to_index == phone_index(keyring, number))
        )
        or 0
    )


def _sms_check_in_in_ten_minutes(
    client: JsonClient, clock: FrozenClock, h: dict[str, str], number: str
) -> None:
    assert client.put(f"{S}/phone", json={"phone": number}, headers=h).status_code == 204
    due = (clock.now() + dt.timedelta(minutes=10)).isoformat()
    r = client.post(f"{S}/check-ins", json={"kind": "one_off", "due_at": due}, headers=h)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.json["channel"] == "sms"


def test_an_sms_check_in_set_in_a_decoy_texts_the_phone_as_a_real_one_does(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    clock: FrozenClock,
    keyring: KeyRing,
) -> None:
    """The person holding the phone puts its own number in and asks for a text check-in in ten
    minutes. A real account texts that phone; the decoy shows the check-in as sent and no text
    ever arrives: the decoy gives itself away to anyone who waits ten minutes."""
    advocate, _ = make_staff(db_session, runtime)
    _real_owner, real_handle = make_survivor_account(db_session, runtime)
    _owner, handle = make_survivor_account(db_session, runtime, advocate)
    db_session.commit()

    real_number, decoy_number = "+447911123411", "+447911123422"
    _sms_check_in_in_ten_minutes(
        client, clock, _session(client, real_handle, SURVIVOR_PIN), real_number
    )
    _sms_check_in_in_ten_minutes(
        client, clock, _session(client, handle, SURVIVOR_DURESS_PIN), decoy_number
    )
    clock.advance(minutes=11)
    run_all_jobs(runtime)

    assert _texts_to(db_session, keyring, real_number) == 1  # the real phone got its text
    assert _texts_to(db_session, keyring, decoy_number) == 1  # the phone in the abuser's hand


# --- [medium] a decoy's missed check-in never shows the welfare check a real one shows ----------


def _consent_and_miss_a_check_in(
    client: JsonClient, clock: FrozenClock, h: dict[str, str]
) -> None:
    """Consent to the police hearing of a welfare check, then let an app check-in lapse."""
    agencies = client.get(f"{S}/agencies", headers=h).json["items"]
    police = next(a["id"] for a in agencies if a["kind"] == "police")
    ask = {"agency_id": police, "kinds": ["welfare_check"], "purpose": "Check on me"}
    terms = client.post(f"{S}/consents/preview", json=ask, headers=h).json
    assert terms is not None
    give = ask | {"expires_at": terms["expires_at"], "text_hash": terms["text_hash"]}
    given = client.post(f"{S}/consents", json=give, headers=h)
    assert given.status_code == 201, given.get_data(as_text=True)
    assert given.json["state"] == "active"
    due = (clock.now() + dt.timedelta(minutes=1)).isoformat()
    r = client.post(
        f"{S}/check-ins", json={"kind": "one_off", "channel": "app", "due_at": due}, headers=h
    )
    assert r.status_code == 201, r.get_data(as_text=True)


def test_a_decoys_missed_check_in_shows_the_disclosure_a_real_one_shows(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    """In the decoy, the person at the phone consents to the police hearing of a welfare check
    and lets a check-in lapse. In a real account nobody acknowledged it in time (a night, a
    weekend): the police are asked to check, and her disclosure log says so (the module says
    what an agency was told stays visible). The decoy's log never shows it."""
    from tests.factories import make_agency

    advocate, _ = make_staff(db_session, runtime)
    _police, police_key = make_agency(db_session, runtime, "Police", "police")
    _real, real_handle = make_survivor_account(db_session, runtime, advocate)
    _owner, handle = make_survivor_account(db_session, runtime, advocate)
    db_session.commit()
    real = _session(client, real_handle, SURVIVOR_PIN)
    decoy = _session(client, handle, SURVIVOR_DURESS_PIN)
    for h in (real, decoy):
        _consent_and_miss_a_check_in(client, clock, h)
    for _ in range(3):  # due, grace over, second window over: each step's jobs run
        clock.advance(hours=2)
        run_all_jobs(runtime)
    pulled = client.get("/v1/partner/alerts", headers=auth_header(police_key))
    assert pulled.status_code == 200

    def disclosures(h: dict[str, str]) -> list[str]:
        r = client.get(f"{S}/disclosures", headers=h)
        assert r.status_code == 200
        return sorted(json.dumps(item.get("kind")) for item in r.json["items"])

    # Hours later the phone logs in again, as it would, and reads the log.
    real, decoy = (
        _session(client, real_handle, SURVIVOR_PIN),
        _session(client, handle, SURVIVOR_DURESS_PIN),
    )
    assert disclosures(real) != []  # the welfare check the police were asked for
    assert disclosures(decoy) == disclosures(real)
