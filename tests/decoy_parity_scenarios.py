"""The scripts of ``tests/test_decoy_parity.py``: what a person at the phone does with each
survivor route, write first, then the reads that show it.

A script only talks HTTP through its ``Phone`` and keeps what the person would remember (the
PIN they set, the duress PIN); it never asks whether it runs in a real or a decoy session.
``SCENARIOS`` keys the scripts by the routes they reach (methods included), in the order a
whole day runs them: quick exit last, since it ends every session.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from core import pages
from safety_plans.sections import template
from tests.decoy_parity_harness import Phone, token_of
from tests.safety_plans.test_instruments import dash_answers
from tests.safety_plans.test_journal import JPEG, entry

S = "/v1/survivor"
PLAN, VERSIONS = f"{S}/safety-plan", f"{S}/safety-plan/versions"
ENTRIES, UPLOADS = f"{S}/journal/entries", f"{S}/journal/attachments"
CHECKINS, PENDING = f"{S}/check-ins", f"{S}/check-ins/pending"
OCCURRENCES = f"{S}/check-ins/occurrences"
ACCESS_LOG, DEVICES = f"{S}/access-log", f"{S}/devices"

DURESS = "905172"  # the duress PIN both sides have when a script starts
NEW_PIN = "615243"  # the issue's own example
NEW_DURESS = "390617"
WRONG_PIN = "564738"
UNKNOWN_ID = "2f6b7f0e-3c1d-4e5f-8a9b-0c1d2e3f4a5b"


def plan(p: Phone) -> None:
    first = p.get(PLAN)
    sections = first.json["sections"] | {"notes": [{"text": "Ring Sam on Friday"}]}
    p.put(PLAN, json={"sections": sections}, note="no If-Match")
    saved = p.put(PLAN, json={"sections": sections}, headers={"If-Match": first.headers["ETag"]})
    p.put(PLAN, json={"sections": sections}, headers={"If-Match": first.headers["ETag"]})
    p.get(PLAN)
    p.get(VERSIONS)
    v1 = first.json["version"]["id"]
    p.get(f"{VERSIONS}/{v1}")
    p.get(f"{VERSIONS}/{UNKNOWN_ID}")
    p.post(f"{VERSIONS}/{v1}/restore", headers={"If-Match": saved.headers["ETag"]})
    p.get(PLAN)
    p.get(VERSIONS)


def risk(p: Phone) -> None:
    p.get(f"{S}/priorities")
    p.put(f"{S}/priorities", json={"priorities": ["children", "safety"]})
    p.put(f"{S}/priorities", json={"priorities": ["lottery"]})
    p.get(f"{S}/priorities")
    p.get(f"{S}/assessments")
    taken = p.post(f"{S}/assessments", json={"instrument_id": "dash", "answers": dash_answers(14)})
    p.get(f"{S}/assessments")
    p.get(f"{S}/assessments/{taken.json['id']}")
    recs = p.get(f"{S}/recommendations")
    current = p.get(PLAN)
    chosen = [r["id"] for r in recs.json["recommendations"][:2]]
    p.post(
        f"{PLAN}/recommendations",
        json={"recommendation_ids": chosen},
        headers={"If-Match": current.headers["ETag"]},
    )
    p.get(f"{S}/recommendations")
    p.get(PLAN)
    p.travel(minutes=1)  # the referral's alert job
    p.get(ACCESS_LOG)


def sharing(p: Phone) -> None:
    p.get(f"{S}/advocate-sharing")
    p.patch(f"{S}/advocate-sharing", json={"plan_shared": False, "journal_shared": True})
    p.patch(f"{S}/advocate-sharing", json={"plan_shared": "maybe"})
    p.get(f"{S}/advocate-sharing")
    p.get(PLAN)


def decoy_plan(p: Phone) -> None:
    p.get(f"{S}/decoy-plan")
    chosen = template() | {"notes": [{"text": "Book club: chapter 4"}]}
    p.put(f"{S}/decoy-plan", json={"sections": chosen})
    p.get(f"{S}/decoy-plan")
    assert p.duress_pin is not None
    # The duress PIN now opens the chosen plan, wherever this session itself stands.
    under_duress = token_of(p.login(p.duress_pin, note="duress PIN"))
    p.get(PLAN, token=under_duress)
    p.get(f"{S}/decoy-plan", token=under_duress)


def messages(p: Phone) -> None:
    p.get(f"{S}/messages")
    sent = p.post(f"{S}/messages", json={"body": "Can we talk on Tuesday?"})
    p.post(f"{S}/messages", json={"body": ""})
    p.clock.advance(seconds=1)
    p.post(f"{S}/messages", json={"body": "After 3pm is best"})
    p.get(f"{S}/messages")
    p.get(f"{S}/messages?limit=1")
    p.get(f"{S}/messages/unread")
    p.post(f"{S}/messages/read", json={"up_to": sent.json["id"]})
    p.get(f"{S}/messages/settings")
    p.put(f"{S}/messages/settings", json={"disappear_after": "1h", "reply_by_sms": True})
    p.put(f"{S}/messages/settings", json={"disappear_after": "2h"})
    p.get(f"{S}/messages/settings")
    p.get(f"{S}/messages")
    p.post(f"{S}/messages/clear")
    p.get(f"{S}/messages")
    p.get(f"{S}/messages/unread")


def phone(p: Phone) -> None:
    p.put(f"{S}/phone", json={"phone": "not a phone"})
    p.put(f"{S}/phone", json={"phone": p.phone_number})
    p.put(f"{S}/phone", json={"phone": p.phone_number}, note="again")
    # What reads the number back: a text check-in goes out (or runs as if it did).
    p.post(CHECKINS, json={"kind": "one_off", "due_at": _later(p, minutes=10)})
    p.travel()
    p.get(PENDING)
    p.travel(minutes=10)
    p.get(PENDING)
    p.delete(f"{S}/phone")
    p.delete(f"{S}/phone", note="again")
    # With no number on file, a text check-in cannot reach the phone: it is missed at once
    # (or, should scheduling it be refused, refused alike in both runs).
    unsent = p.post(CHECKINS, json={"kind": "one_off", "due_at": _later(p, minutes=10)}).json
    p.travel()
    waiting = [o for o in p.get(PENDING).json if o["schedule_id"] == unsent.get("id")]
    p.travel(minutes=10)
    p.get(PENDING)
    for occ in waiting:
        p.post(f"{OCCURRENCES}/{occ['id']}/answer", json={"answer": "safe"})
    p.get(CHECKINS)
    p.get(ACCESS_LOG)


def check_ins(p: Phone) -> None:
    p.get(f"{S}/check-ins/templates")
    p.get(f"{S}/check-ins/settings")
    codes = {"safe_reply": "1", "help_reply": "2", "grace_minutes": 15}
    p.put(f"{S}/check-ins/settings", json=codes | {"timezone": "Europe/London"})
    p.put(f"{S}/check-ins/settings", json={"grace_minutes": 1})
    p.get(f"{S}/check-ins/settings")
    app = {"kind": "one_off", "channel": "app"}
    gym = p.post(CHECKINS, json=app | {"due_at": _later(p, minutes=20), "template": "gym"})
    p.post(CHECKINS, json={"kind": "recurring", "channel": "app", "days": ["wed"], "at": "09:00"})
    p.post(CHECKINS, json=app | {"due_at": p.clock.now().isoformat()})
    p.get(CHECKINS)
    p.get(PENDING)
    p.travel()
    [occ, *_] = p.get(PENDING).json
    p.post(f"{OCCURRENCES}/{occ['id']}/snooze", json={"minutes": 15})
    p.get(PENDING)
    p.travel(minutes=40)
    p.get(PENDING)
    p.post(f"{OCCURRENCES}/{occ['id']}/answer", json={"answer": "help"})
    p.post(f"{OCCURRENCES}/{occ['id']}/answer", json={"answer": "safe"}, note="late")
    p.post(f"{OCCURRENCES}/{UNKNOWN_ID}/answer", json={"answer": "safe"})
    # One answered all at once, one left to run out.
    p.post(CHECKINS, json=app | {"due_at": _later(p, minutes=10)})
    p.post(CHECKINS, json=app | {"due_at": _later(p, minutes=30)})
    p.travel()
    [soon, later] = p.get(PENDING).json
    p.travel(minutes=10)
    p.post(f"{S}/check-ins/safe-now")
    p.travel(minutes=50)
    p.get(PENDING)
    p.post(f"{OCCURRENCES}/{later['id']}/answer", json={"answer": "safe"}, note="after grace")
    p.post(f"{OCCURRENCES}/{soon['id']}/snooze", json={"minutes": 15}, note="answered")
    p.delete(f"{CHECKINS}/{gym.json['id']}")
    p.delete(f"{CHECKINS}/{UNKNOWN_ID}")
    p.get(CHECKINS)
    p.get(PENDING)
    p.get(ACCESS_LOG)


def consents(p: Phone) -> None:
    agencies = p.get(f"{S}/agencies").json["items"]
    police = next(a["id"] for a in agencies if a["kind"] == "police")
    ask = {"agency_id": police, "kinds": ["welfare_check", "risk_level"], "purpose": "Check on me"}
    terms = p.post(f"{S}/consents/preview", json=ask).json
    p.post(f"{S}/consents/preview", json=ask | {"agency_id": UNKNOWN_ID})
    give = ask | {"expires_at": terms["expires_at"], "text_hash": terms["text_hash"]}
    p.post(f"{S}/consents", json=give | {"text_hash": "0" * 64})
    given = p.post(f"{S}/consents", json=give).json
    p.get(f"{S}/consents")
    receipt = {"receipt_hash": given["receipt"]["hash"]}
    p.post(f"{S}/consents/{given['id']}/confirm", json=receipt)
    p.post(f"{S}/consents/{UNKNOWN_ID}/confirm", json=receipt)
    p.post(f"{S}/consents/{given['id']}/revoke")
    p.post(f"{S}/consents/{given['id']}/revoke", note="again")
    p.post(f"{S}/consents/{UNKNOWN_ID}/revoke")
    p.get(f"{S}/consents")
    p.get(f"{S}/disclosures")
    p.get(f"{S}/sharing-notices")
    p.get(f"{S}/sharing-preferences")
    p.put(f"{S}/sharing-preferences", json={"agency_news": True})
    p.get(f"{S}/sharing-preferences")
    p.travel(minutes=5)
    p.get(f"{S}/disclosures")
    p.get(ACCESS_LOG)


def welfare(p: Phone) -> None:
    """Consent to the police hearing of welfare checks, then let a check-in lapse. Nobody
    acknowledges it in time (a night, a weekend), so the police are asked to check on her, and
    her disclosure log says so."""
    agencies = p.get(f"{S}/agencies").json["items"]
    police = next(a["id"] for a in agencies if a["kind"] == "police")
    ask = {"agency_id": police, "kinds": ["welfare_check"], "purpose": "Check on me"}
    terms = p.post(f"{S}/consents/preview", json=ask).json
    give = ask | {"expires_at": terms["expires_at"], "text_hash": terms["text_hash"]}
    given = p.post(f"{S}/consents", json=give).json
    app = {"kind": "one_off", "channel": "app", "due_at": _later(p, minutes=5)}
    schedule = p.post(CHECKINS, json=app).json
    p.travel(minutes=5)
    [occ] = [o for o in p.get(PENDING).json if o["schedule_id"] == schedule["id"]]
    p.travel(hours=1)  # the grace period is over: missed
    p.get(PENDING)
    p.get(f"{S}/disclosures")
    # A late call for help: the escalation already open carries it (no second check).
    p.post(f"{OCCURRENCES}/{occ['id']}/answer", json={"answer": "help"}, note="late")
    p.travel(hours=1)  # and the second window: the police are asked
    p.get(f"{S}/disclosures")
    p.get(CHECKINS)
    p.get(ACCESS_LOG)
    # Withdrawn again, so that no later script's alarm goes to the police.
    p.post(f"{S}/consents/{given['id']}/revoke")
    p.get(f"{S}/disclosures")


def journal(p: Phone) -> None:
    photo = p.post(UPLOADS, data={"file": (io.BytesIO(JPEG), "photo.jpg")}).json
    p.post(UPLOADS, data={"file": (io.BytesIO(b"MZ not a photo"), "x.exe")})
    p.get(f"{UPLOADS}/{photo['id']}")
    p.get(f"{UPLOADS}/{UNKNOWN_ID}")
    first = p.post(ENTRIES, json=entry(attachment_ids=[photo["id"]])).json
    p.clock.advance(seconds=1)
    typo = p.post(ENTRIES, json=entry(description="He took my keys")).json
    p.post(ENTRIES, json=entry(amends=first["id"], description="He pushed me into the wall."))
    p.post(ENTRIES, json=entry(kinds=["bad_mood"]))
    p.delete(f"{ENTRIES}/{typo['id']}")
    p.delete(f"{ENTRIES}/{typo['id']}", note="again")
    p.get(ENTRIES)
    p.get(f"{ENTRIES}/{first['id']}")
    p.get(f"{ENTRIES}/{typo['id']}")
    p.get(f"{S}/journal/export")


def devices(p: Phone) -> None:
    p.get(DEVICES)
    other = token_of(p.login(p.pin, label="Kitchen tablet"))
    listed = p.get(DEVICES).json
    [tablet] = [d["id"] for d in listed if not d["current"]]
    p.delete(f"{DEVICES}/{tablet}")
    p.get(DEVICES, token=other)
    p.delete(f"{DEVICES}/{tablet}", note="again")
    p.get(DEVICES)


def pin(p: Phone) -> None:
    other = token_of(p.login(p.pin, note="a second device"))
    p.post(f"{S}/pin", json={"current_pin": WRONG_PIN, "new_pin": NEW_PIN})
    p.post(f"{S}/pin", json={"current_pin": p.pin, "new_pin": "111111"})
    if p.duress_pin is not None:
        p.post(f"{S}/pin", json={"current_pin": p.pin, "new_pin": p.duress_pin})
    p.post(f"{S}/pin", json={"current_pin": p.pin, "new_pin": NEW_PIN})
    old, p.pin = p.pin, NEW_PIN
    p.get(DEVICES, token=other, note="ended by the change")
    p.get(DEVICES)
    p.login(old, note="the old PIN")
    fresh = token_of(p.login(p.pin, note="the new PIN"))
    p.get(DEVICES, token=fresh)
    p.get(PLAN, token=fresh)
    p.get(ACCESS_LOG)


def duress_pin(p: Phone) -> None:
    assert p.duress_pin is not None
    p.put(f"{S}/duress-pin", json={"current_pin": WRONG_PIN, "duress_pin": NEW_DURESS})
    p.put(f"{S}/duress-pin", json={"current_pin": p.pin, "duress_pin": p.pin})
    p.put(f"{S}/duress-pin", json={"current_pin": p.pin, "duress_pin": NEW_DURESS})
    old, p.duress_pin = p.duress_pin, NEW_DURESS
    p.login(old, note="the old duress PIN")
    under_duress = token_of(p.login(NEW_DURESS, note="the new duress PIN"))
    p.get(PLAN, token=under_duress)
    p.get(DEVICES, token=under_duress)
    p.put(f"{S}/duress-pin", json={"current_pin": p.pin, "duress_pin": None})
    p.duress_pin = None
    p.get(DEVICES, token=under_duress, note="ended with the duress PIN")
    p.login(NEW_DURESS, note="removed")
    p.get(DEVICES)
    p.get(ACCESS_LOG)


def refresh(p: Phone) -> None:
    first = p.login(p.pin).json
    second = p.post(f"{S}/token/refresh", json={"refresh_token": first["refresh_token"]}).json
    p.get(DEVICES, token=second["access_token"])
    p.post(f"{S}/token/refresh", json={"refresh_token": first["refresh_token"]}, note="reused")
    p.get(DEVICES, token=second["access_token"], note="family ended")
    p.post(f"{S}/token/refresh", json={"refresh_token": "sr_" + "x" * 43}, note="unknown")
    p.get(DEVICES)


def access_log(p: Phone) -> None:
    p.get(ACCESS_LOG)
    p.get(f"{ACCESS_LOG}?limit=1")
    unknown = pages.Position(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), uuid.UUID(UNKNOWN_ID))
    p.get(f"{ACCESS_LOG}?cursor={pages.encode(unknown)}")
    p.get(f"{ACCESS_LOG}?cursor=not-a-cursor")
    p.get(f"{ACCESS_LOG}?limit=0")


def enroll(p: Phone) -> None:
    # Enrolment comes before any session (the app sends no token): whatever session the phone
    # holds, an unknown or malformed code answers the same.
    body = {"code": "ABCD-EFGH-JKLM-NPQR", "pin": NEW_PIN}
    p.post(f"{S}/enroll", json=body, anonymous=True)
    p.post(f"{S}/enroll", json={"code": "x"}, anonymous=True)


def quick_exit(p: Phone) -> None:
    other = token_of(p.login(p.pin, note="a second device"))
    p.post(f"{S}/quick-exit")
    p.get(DEVICES, note="this session")
    p.get(DEVICES, token=other, note="the other session")
    back = token_of(p.login(p.pin, note="after quick exit"))
    p.get(DEVICES, token=back)


def _later(p: Phone, **delta: float) -> str:
    return (p.clock.now() + dt.timedelta(**delta)).isoformat()


@dataclass(frozen=True)
class Scenario:
    name: str
    script: Callable[[Phone], None]
    routes: frozenset[str]

    def __repr__(self) -> str:
        return self.name


def _scenario(script: Callable[[Phone], None], *routes: str) -> Scenario:
    return Scenario(script.__name__, script, frozenset(r.replace("~", S) for r in routes))


_LOGIN = "POST ~/login"
SCENARIOS: tuple[Scenario, ...] = (
    _scenario(
        plan,
        "GET ~/safety-plan",
        "PUT ~/safety-plan",
        "GET ~/safety-plan/versions",
        "GET ~/safety-plan/versions/<uuid:version_id>",
        "POST ~/safety-plan/versions/<uuid:version_id>/restore",
    ),
    _scenario(
        risk,
        "GET ~/priorities",
        "PUT ~/priorities",
        "GET ~/assessments",
        "POST ~/assessments",
        "GET ~/assessments/<uuid:assessment_id>",
        "GET ~/recommendations",
        "POST ~/safety-plan/recommendations",
    ),
    _scenario(sharing, "GET ~/advocate-sharing", "PATCH ~/advocate-sharing"),
    _scenario(decoy_plan, "GET ~/decoy-plan", "PUT ~/decoy-plan", _LOGIN),
    _scenario(
        messages,
        "GET ~/messages",
        "POST ~/messages",
        "POST ~/messages/read",
        "GET ~/messages/unread",
        "GET ~/messages/settings",
        "PUT ~/messages/settings",
        "POST ~/messages/clear",
    ),
    _scenario(phone, "PUT ~/phone", "DELETE ~/phone"),
    _scenario(
        check_ins,
        "GET ~/check-ins",
        "POST ~/check-ins",
        "DELETE ~/check-ins/<uuid:schedule_id>",
        "GET ~/check-ins/pending",
        "POST ~/check-ins/occurrences/<uuid:occurrence_id>/answer",
        "POST ~/check-ins/occurrences/<uuid:occurrence_id>/snooze",
        "POST ~/check-ins/safe-now",
        "GET ~/check-ins/settings",
        "PUT ~/check-ins/settings",
        "GET ~/check-ins/templates",
    ),
    _scenario(
        consents,
        "GET ~/agencies",
        "POST ~/consents/preview",
        "POST ~/consents",
        "GET ~/consents",
        "POST ~/consents/<uuid:consent_id>/confirm",
        "POST ~/consents/<uuid:consent_id>/revoke",
        "GET ~/disclosures",
        "GET ~/sharing-notices",
        "GET ~/sharing-preferences",
        "PUT ~/sharing-preferences",
    ),
    _scenario(
        welfare,
        "GET ~/agencies",
        "POST ~/consents/preview",
        "POST ~/consents",
        "POST ~/check-ins",
        "GET ~/check-ins/pending",
        "POST ~/check-ins/occurrences/<uuid:occurrence_id>/answer",
        "GET ~/disclosures",
        "POST ~/consents/<uuid:consent_id>/revoke",
    ),
    _scenario(
        journal,
        "POST ~/journal/attachments",
        "GET ~/journal/attachments/<uuid:attachment_id>",
        "POST ~/journal/entries",
        "GET ~/journal/entries",
        "GET ~/journal/entries/<uuid:entry_id>",
        "DELETE ~/journal/entries/<uuid:entry_id>",
        "GET ~/journal/export",
    ),
    _scenario(devices, "GET ~/devices", "DELETE ~/devices/<uuid:device_id>", _LOGIN),
    _scenario(pin, "POST ~/pin", _LOGIN),
    _scenario(duress_pin, "PUT ~/duress-pin", _LOGIN),
    _scenario(refresh, "POST ~/token/refresh", _LOGIN),
    _scenario(access_log, "GET ~/access-log"),
    _scenario(enroll, "POST ~/enroll"),
    _scenario(quick_exit, "POST ~/quick-exit", _LOGIN),  # last: it ends every session
)


def survivor_routes(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(S + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
