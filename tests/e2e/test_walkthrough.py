"""The whole story, played through HTTP against real processes (issue 8, "walkthrough").

gunicorn (2 processes) + a clock-travelling ``Worker`` process + a fresh PostgreSQL database
+ the Prism mock of Twilio's own contract + a ``standardwebhooks`` reference receiver standing
in for the police. Only the worker's clock is moved (see ``clock_worker.py``): the grace
period and the second window are the smallest the API allows (5 minutes each), and the test
lets them pass by moving the worker's clock, not by waiting ten minutes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.client import (
    Agency,
    Api,
    ApiError,
    StaffAccount,
    SurvivorAccount,
    bootstrap_admin,
    enrol_survivor,
    in_minutes,
    invite_staff,
    login_staff,
    register_agency,
    save_plan,
    survivor_login,
)
from tests.e2e.harness import ClockFile, Deployment, deployment, make_workdir, wait_until
from tests.messaging.prism import run_prism

pytestmark = pytest.mark.slow

PIN, DURESS_PIN = "482913", "771254"
PLAN_NOTE = "Leave by the back door; the neighbour at 14 knows"
WAIT = 60.0  # seconds: the longest any step may take to show its effect


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, ClockFile]]:
    clock = ClockFile(tmp_path_factory.mktemp("clock") / "offset")
    with (
        contextlib.contextmanager(run_prism)() as prism_url,
        deployment(
            twilio_url=prism_url,
            fast_argon2=True,
            workers=1,
            clock_file=clock,
            receiver_now=clock.now,
            workdir=make_workdir("lantern-walkthrough-"),
        ) as dep,
    ):
        yield dep, clock


def _notices(advocate: StaffAccount) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = advocate.api.get("/v1/staff/notices")["items"]
    return items


def _eventually(what: str, probe: Any) -> Any:
    """Poll ``probe`` until it returns something truthy (bounded); return it."""
    found: list[Any] = []

    def ok() -> bool:
        value = probe()
        if value:
            found.append(value)
        return bool(value)

    wait_until(what, ok, WAIT, 0.25)
    return found[0]


def test_the_whole_story(world: tuple[Deployment, ClockFile]) -> None:
    dep, clock = world
    base = dep.stack.base
    assert dep.receiver.server is not None, "the deployment starts its receiver"
    receiver_base = f"http://127.0.0.1:{dep.receiver.server.server_address[1]}"

    # 1. The first admin (bootstrap command), who then enrols TOTP and works over HTTP only.
    admin = bootstrap_admin(dep.stack)
    # 2. The admin invites an advocate and registers the police with an API key and a webhook.
    advocate = invite_staff(admin, "robin@lantern.test", "advocate")
    police: Agency = register_agency(admin, "County Police", "police", receiver_base, "/police")
    dep.receiver.secrets[police.webhook_path] = police.webhook_secret
    assert police.api.get("/v1/partner/me")["agency_id"] == police.id  # the key is the agency's
    # An admin can never read survivor content.
    assert admin.api.call("GET", "/v1/staff/caseload").status_code in (403, 404)

    # 3. The advocate enrols a survivor; the survivor's PIN and duress PIN.
    survivor: SurvivorAccount = enrol_survivor(advocate, PIN)
    s = survivor.api
    s.put("/v1/survivor/duress-pin", {"current_pin": PIN, "duress_pin": DURESS_PIN}, expect=204)

    # 4. A safety plan (ETag / If-Match), and the DASH checklist.
    save_plan(s, "/v1/survivor/safety-plan", PLAN_NOTE)
    plan = s.get("/v1/survivor/safety-plan")
    assert (
        plan["sections"]["notes"] == [{"text": PLAN_NOTE}]
        or plan["sections"]["notes"][0]["text"] == PLAN_NOTE
    )
    answers: dict[str, Any] = {f"q{i}": ("yes" if i <= 14 else "no") for i in range(1, 25)}
    dash = s.post("/v1/survivor/assessments", {"instrument_id": "dash", "answers": answers})
    assert "high" in str(dash["result"]).lower()  # 14 "yes" is high risk (MARAC criterion)

    # 5. Phone and reply codes, the shortest grace and second window, the police as welfare
    #    agency; a one-off SMS check-in in a minute.
    s.put("/v1/survivor/phone", {"phone": "+447911123456"}, expect=204)
    settings = s.put(
        "/v1/survivor/check-ins/settings",
        {
            "grace_minutes": 5,
            "second_window_minutes": 5,
            "safe_reply": "1",
            "help_reply": "2",
            "welfare_agency_id": police.id,
        },
        expect=200,
    )
    assert settings["reply_codes_set"] is True
    assert "safe_reply" not in settings
    assert "help_reply" not in settings

    # 6. Consent: the police may receive welfare-check requests for 90 days.
    agencies = s.get("/v1/survivor/agencies")["items"]
    assert police.id in {a["id"] for a in agencies}
    terms = s.post(
        "/v1/survivor/consents/preview",
        {"agency_id": police.id, "kinds": ["welfare_check"], "purpose": "Check on me"},
        expect=200,
    )
    assert terms["text"]
    assert len(terms["text_hash"]) == 64
    expires = dt.datetime.fromisoformat(terms["expires_at"])
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
    consent = s.post(
        "/v1/survivor/consents",
        {
            "agency_id": police.id,
            "kinds": ["welfare_check"],
            "purpose": "Check on me",
            "expires_at": terms["expires_at"],
            "text_hash": terms["text_hash"],
        },
        expect=201,
    )
    assert consent["state"] == "active", consent

    schedule = s.post(
        "/v1/survivor/check-ins",
        {"kind": "one_off", "channel": "sms", "due_at": in_minutes(1), "template": "pharmacy"},
        expect=201,
    )
    assert schedule["kind"] == "one_off"

    # 7. Time passes (for the worker): the check-in is sent through Twilio (Prism) ...
    clock.advance(minutes=2)
    pending = _eventually(
        "the check-in to be sent",
        lambda: [o for o in s.get("/v1/survivor/check-ins/pending") if o["state"] == "sent"],
    )
    assert pending[0]["channel"] == "sms"
    # ... nobody answers; the grace period ends: missed, and the advocate is alerted.
    clock.advance(minutes=5, seconds=10)
    queue = _eventually(
        "the advocate's escalation",
        lambda: [e for e in advocate.api.get("/v1/staff/escalations") if e["source"] == "missed"],
    )
    escalation = queue[0]
    assert escalation["survivor_id"] == survivor.id
    assert escalation["state"] == "escalated"
    assert any(n["kind"] == "escalation.missed" for n in _notices(advocate))
    assert s.get("/v1/survivor/check-ins/pending") == []

    # 8. The advocate does not acknowledge; the second window ends: the police are asked for a
    #    welfare check, signed (verified by the receiver) and under the police's own pseudonym.
    clock.advance(minutes=5, seconds=10)
    hits = _eventually("the police webhook", lambda: dep.receiver.for_path("/police"))
    assert dep.receiver.rejected == 0
    alert = hits[0].payload
    assert alert["type"] == "alert.welfare_check"
    reference = alert["data"]["reference"]
    assert reference
    assert survivor.id not in str(alert)
    assert survivor.handle not in str(alert)
    assert PLAN_NOTE not in str(alert)
    assert "+447911123456" not in str(alert)
    # The pull API shows the same alert, under the same webhook-id.
    pulled = police.api.get("/v1/partner/alerts")["items"]
    assert hits[0].webhook_id in {a["webhook_id"] for a in pulled}
    assert advocate.api.get("/v1/staff/escalations")[0]["partner_outcome"]

    # 9. The police post "released from custody" against their reference: the advocate is told.
    released_event = {
        "event_id": "custody-0001",
        "reference": reference,
        "category": "custody",
        "type": "released",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    event = police.api.post("/v1/partner/events", released_event, expect=201)
    assert event["duplicate"] is False
    # A retry of the same event (the agency's network blinked) has no second effect.
    again = police.api.post("/v1/partner/events", released_event, expect=(200, 201))
    assert again["duplicate"] is True
    released = [n for n in _notices(advocate) if n["kind"] == "agency_event"]
    assert len(released) == 1  # told at once (in the same request), and only once
    assert released[0]["urgency"] == "urgent"  # a release is urgent
    assert released[0]["survivor_id"] == survivor.id

    # 10. The survivor sees who was told what: the welfare check out, the event in.
    log = s.get("/v1/survivor/disclosures")["items"]
    directions = {(d["direction"], d["agency_id"]) for d in log}
    assert any(d[1] == police.id for d in directions)
    assert len({d[0] for d in directions}) == 2, log  # outbound alert and inbound event

    # 11. A duress login looks normal and raises an alert for the advocate.
    real = survivor_login(base, survivor.handle, PIN)
    duress = survivor_login(base, survivor.handle, DURESS_PIN)
    assert set(real) == set(duress)
    _eventually(
        "the duress escalation",
        lambda: [
            e
            for e in advocate.api.get("/v1/staff/escalations")
            if e["source"] == "duress" and e["survivor_id"] == survivor.id
        ],
    )
    decoy = Api(base, duress["access_token"])
    assert PLAN_NOTE not in str(decoy.get("/v1/survivor/safety-plan"))

    # 12. Quick exit ends every session of the survivor at once.
    other = Api(base, real["access_token"])
    assert other.call("GET", "/v1/survivor/safety-plan").status_code == 200
    s.call("POST", "/v1/survivor/quick-exit", expect=204)
    for token in (survivor.api.token, real["access_token"], duress["access_token"]):
        r = Api(base, token).call("GET", "/v1/survivor/safety-plan")
        assert r.status_code == 401, r.status_code

    # The advocate can still log in afresh (a new TOTP step) and see the survivor's record.
    login_staff(advocate)
    assert advocate.api.get(f"/v1/staff/survivors/{survivor.id}/disclosures")["items"]
    # No process died and nothing leaked a stack trace.
    assert dep.stack.app is not None
    assert dep.stack.app.alive()
    assert all(w.alive() for w in dep.stack.workers)
    assert "Traceback" not in dep.stack.logs()


def test_the_walkthrough_took_real_processes(world: tuple[Deployment, ClockFile]) -> None:
    """Guards the proof itself: the story above ran against separate OS processes."""
    dep, _ = world
    assert dep.stack.app is not None
    pids = {dep.stack.app.pid, *(w.pid for w in dep.stack.workers)}
    assert len(pids) == 2
    assert all(Path(f"/proc/{p}").exists() for p in pids)
    with pytest.raises(ApiError):
        Api(dep.stack.base).get("/v1/staff/me")  # deny by default, over real HTTP
    assert time.time() > 0
