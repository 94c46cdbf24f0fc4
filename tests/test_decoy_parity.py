"""Issue 12 §2: for every survivor route, a decoy session's write followed by its read shows
what a real session would see, and nothing real changes.

Each scenario is a short script of requests (writes, then the reads that show them), keyed by
the survivor routes it reaches. Every script runs twice: in a real session of a fresh survivor
A, and in a decoy (duress) session of another survivor B. The two transcripts, normalised
(ids, tokens and hashes as placeholders; the clock is set to the same instant for both runs),
must be equal: whoever forced the duress PIN can tell nothing from the answers. Then B's real
account must read exactly as before, and nothing about B's decoy may have reached staff, a
partner agency or a phone (``tests.decoy_exits``).

Why the comparison is fair: a decoy account has no advocate, no consents of its own and no
duress PIN, and its plan starts as the owner's chosen decoy plan. So A is a fresh account on
nobody's caseload; B's owner chooses the template (what a new real plan starts from) as her
decoy plan; and both A and B's decoy get the same duress PIN before the script, through the
API. What then differs between the accounts is only what must: B's real account, with its
advocate, consents and content, which the decoy must never show.

The texts each run's phone receives (the console gateway's sends, numbers normalised) must be
equal too: a decoy texts its own check-ins to the number set in it, as a real account does.

A survivor route that no scenario reaches fails ``test_every_survivor_route_is_in_a_scenario``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.principals import StaffPrincipal
from auth.survivors.models import Survivor, SurvivorDevice
from coordination.models import Alert
from coordination.webhooks import set_url
from coordination.webhooks_http import FakeWebhookSender
from core.clock import FrozenClock
from core.crypto import KeyRing, decoy_phone_index, phone_index
from core.ids import new_id
from core.notices import StaffNotice
from core.runtime import Runtime
from core.settings import Settings
from messaging.phone import survivor_phone
from messaging.sms.gateway import ConsoleSmsGateway
from safety_plans.sections import template
from tests.conftest import make_settings
from tests.coordination.conftest import PUBLIC_IP, FakeResolver
from tests.decoy_exits import (
    Exits,
    assert_only_the_alarm_left,
    decoy_ids,
    run_all_jobs,
    run_everything_queued,
)
from tests.decoy_parity_harness import Phone, token_of
from tests.decoy_parity_scenarios import (
    ACCESS_LOG,
    CHECKINS,
    DURESS,
    ENTRIES,
    NEW_PIN,
    PENDING,
    PLAN,
    SCENARIOS,
    VERSIONS,
    S,
    Scenario,
    phone,
    pin,
    quick_exit,
    survivor_routes,
    welfare,
)
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_header,
    make_agency,
    make_device,
    make_staff,
    make_survivor_account,
)
from tests.json_client import JsonClient
from tests.safety_plans.test_journal import entry

CANARY = "REAL-CANARY"  # in B's real account only: no decoy answer may carry it
FAILED_LOGIN = "survivor.login_failed"


@pytest.fixture
def settings(tmp_path: Any, database_url: str, keyring: KeyRing) -> Settings:
    # The scripts wait for check-in timers on the frozen clock; tokens must outlive the wait
    # (token expiry has its own tests).
    return make_settings(tmp_path, database_url, keyring, survivor_access_minutes=7 * 24 * 60)


# --- the world ---------------------------------------------------------------------------------

#: What B's real account is read back by, before and after the decoy's run.
REAL_READS = (
    PLAN,
    VERSIONS,
    f"{S}/advocate-sharing",
    f"{S}/priorities",
    f"{S}/decoy-plan",
    f"{S}/assessments",
    f"{S}/recommendations",
    ENTRIES,
    f"{S}/messages",
    f"{S}/messages/unread",
    f"{S}/messages/settings",
    CHECKINS,
    PENDING,
    f"{S}/check-ins/settings",
    f"{S}/consents",
    f"{S}/disclosures",
    f"{S}/sharing-notices",
    f"{S}/sharing-preferences",
    ACCESS_LOG,
)


@dataclass
class World:
    app: Flask
    client: JsonClient
    session: Session
    runtime: Runtime
    clock: FrozenClock
    owner: Survivor  # B: the real account whose duress PIN opens the decoy
    owner_handle: str
    police_hook: FakeWebhookSender  # the police's endpoint: answers 2xx

    def gateway(self) -> ConsoleSmsGateway:
        gateway = wire(self.runtime).sms.gateway
        assert isinstance(gateway, ConsoleSmsGateway)
        return gateway

    def real_token(self) -> str:
        """A fresh real session of B (the decoy's quick exit may have ended the others)."""
        _device, token = make_device(self.session, self.runtime, self.owner.id)
        self.session.commit()
        return token

    def read_real(self) -> list[tuple[str, int, Any, str | None]]:
        h = auth_header(self.real_token())
        out = []
        for path in REAL_READS:
            r = self.client.get(path, headers=h)
            body: Any = r.json
            if path == ACCESS_LOG and r.status_code == 200:
                # A wrong PIN typed at her handle is a guess at her account, whichever PIN
                # was meant (it counts toward her lock): her log rightly shows it.
                body["items"] = [e for e in body["items"] if e["action"] != FAILED_LOGIN]
            out.append((path, r.status_code, body, r.headers.get("ETag")))
        return out

    def _phone(self, kind: str, handle: str, pin: str, token: str, number: str) -> Phone:
        p = Phone(
            kind=kind,
            app=self.app,
            client=self.client,
            clock=self.clock,
            run_jobs=lambda: run_all_jobs(self.runtime),
            handle=handle,
            pin=pin,
            duress_pin=None,
            phone_number=number,
            token=token,
        )
        # The same duress PIN on both sides (the decoy has none of its own until now).
        r = p.put(f"{S}/duress-pin", json={"current_pin": pin, "duress_pin": DURESS})
        assert r.status_code == 204, r.data
        p.duress_pin = DURESS
        p.answers.clear()
        p.routes.clear()
        return p

    def real_phone(self) -> Phone:
        """A: a fresh real account, nobody's case, in a real session."""
        survivor, handle = make_survivor_account(self.session, self.runtime)
        _device, token = make_device(self.session, self.runtime, survivor.id)
        self.session.commit()
        return self._phone("real", handle, SURVIVOR_PIN, token, "+447911123401")

    def decoy_phone(self) -> Phone:
        """B's decoy, in a session opened as a duress login opens it."""
        _device, token = make_device(self.session, self.runtime, self.owner.id, decoy=True)
        self.session.commit()
        return self._phone("decoy", self.owner_handle, SURVIVOR_DURESS_PIN, token, "+447911123402")


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.get_data(as_text=True)
    return r


def _fill_real_account(client: JsonClient, h: dict[str, str], agency_id: str) -> None:
    """B's real life in the app: what a decoy must neither show nor change."""
    # B chooses the template as her decoy plan: the decoy's plan then starts where a new
    # real plan starts (see the module docstring).
    _ok(client.put(f"{S}/decoy-plan", json={"sections": template()}, headers=h))
    current = _ok(client.get(PLAN, headers=h))
    notes = current.json["sections"] | {"notes": [{"text": f"{CANARY} refuge address"}]}
    _ok(
        client.put(
            PLAN, json={"sections": notes}, headers=h | {"If-Match": current.headers["ETag"]}
        )
    )
    _ok(client.post(ENTRIES, json=entry(description=CANARY), headers=h), 201)
    _ok(client.post(f"{S}/messages", json={"body": CANARY}, headers=h), 201)
    _ok(client.put(f"{S}/priorities", json={"priorities": ["housing"]}, headers=h))
    _ok(client.put(f"{S}/phone", json={"phone": "+447911123499"}, headers=h), 204)
    _ok(client.put(f"{S}/check-ins/settings", json={"grace_minutes": 45}, headers=h))
    due = "2026-03-01T09:00:00+00:00"
    _ok(client.post(CHECKINS, json={"kind": "one_off", "due_at": due}, headers=h), 201)
    # A consent to share her risk level (a duress alarm itself may go to a welfare-check
    # agency: that is the alarm, not the decoy; this world has none).
    ask = {"agency_id": agency_id, "kinds": ["risk_level"], "purpose": "MARAC"}
    terms = _ok(client.post(f"{S}/consents/preview", json=ask, headers=h)).json
    give = ask | {"expires_at": terms["expires_at"], "text_hash": terms["text_hash"]}
    _ok(client.post(f"{S}/consents", json=give, headers=h), 201)


@pytest.fixture
def world(app: Flask, db_session: Session, runtime: Runtime, clock: FrozenClock) -> World:
    advocate, _ = make_staff(db_session, runtime)
    admin, _ = make_staff(db_session, runtime, role="admin")
    owner, handle = make_survivor_account(db_session, runtime, advocate)
    police, _ = make_agency(db_session, runtime, "Police", "police")
    make_agency(db_session, runtime, "Refuge", "refuge")
    # The police take alerts at an endpoint that answers 2xx: what a real account's disclosure
    # log shows is then what was really delivered.
    deps = wire(runtime).coordination
    resolver = FakeResolver()
    resolver.names["hooks.police.example"] = [PUBLIC_IP]
    deps.sender, deps.resolver = FakeWebhookSender(), resolver
    set_url(
        db_session,
        StaffPrincipal(admin.id, "admin", new_id(), clock.now()),
        clock,
        deps,
        agency_id=police.id,
        url="https://hooks.police.example/",
    )
    db_session.commit()
    w = World(app, JsonClient(app), db_session, runtime, clock, owner, handle, deps.sender)
    _fill_real_account(w.client, auth_header(w.real_token()), str(police.id))
    run_all_jobs(runtime)
    return w


# --- the tests ---------------------------------------------------------------------------------


def test_every_survivor_route_is_in_a_scenario(app: Flask) -> None:
    declared = set().union(*(s.routes for s in SCENARIOS))
    routes = survivor_routes(app)
    assert routes - declared == set(), "survivor routes no parity scenario reaches"
    assert declared - routes == set(), "scenarios name routes the app does not have"
    assert SCENARIOS[-1].script is quick_exit


def _run_both(world: World, scripts: list[Scenario]) -> tuple[Phone, Phone]:
    # Both sides are set up, and both runs play, at the same instants: times compare as
    # they are, and only the decoy could make them differ.
    start = world.clock.now()
    real = world.real_phone()
    world.clock.set(start)
    decoy = world.decoy_phone()
    sent = world.gateway().sent
    for phone_ in (real, decoy):
        world.clock.set(start + dt.timedelta(minutes=1))
        before = len(sent)
        for scenario in scripts:
            scenario.script(phone_)
        phone_.record_texts(sent[before:])
    return real, decoy


def _assert_parity(
    world: World, scripts: list[Scenario], before: Any, exits: Exits
) -> tuple[Phone, Phone]:
    real, decoy = _run_both(world, scripts)
    for phone_ in (real, decoy):
        for scenario in scripts:
            missed = scenario.routes - phone_.routes
            assert not missed, f"{scenario.name} did not reach {missed} ({phone_.kind})"
    # The person at the phone can tell nothing from the answers, nor from the texts...
    assert decoy.lines() == real.lines()
    assert decoy.texts == real.texts
    if phone in [s.script for s in scripts]:
        assert real.texts, "the real phone was never texted: nothing was compared"
    assert not any(CANARY.encode() in raw for raw in decoy.raw)
    # ...nothing real changed...
    run_everything_queued(world.runtime, world.clock)
    assert world.read_real() == before
    world.session.expire_all()
    owner = world.session.get(Survivor, world.owner.id)
    assert owner is not None
    assert world.runtime.hasher.verify(owner.pin_hash, SURVIVOR_PIN)
    ended = world.session.scalars(
        select(SurvivorDevice.revoked_reason).where(
            SurvivorDevice.survivor_id == owner.id, SurvivorDevice.revoked_at.is_not(None)
        )
    ).all()
    # Quick exit is a safety action whoever presses it: it ends the real sessions too.
    assert set(ended) <= ({"quick_exit"} if quick_exit in [s.script for s in scripts] else set())
    # ...and only the alarm left the building (and the decoy's check-ins, to its phone).
    assert_only_the_alarm_left(
        world.session, world.runtime, exits, owner.id, decoy_numbers=frozenset({decoy.phone_number})
    )
    return real, decoy


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_decoy_session_reads_back_what_a_real_one_would(world: World, scenario: Scenario) -> None:
    before = world.read_real()
    assert CANARY in str(before)
    exits = Exits.take(world.session, world.runtime)
    _assert_parity(world, [scenario], before, exits)


def test_a_whole_day_in_a_decoy_reads_back_as_a_real_one(world: World) -> None:
    """Every script in turn in one session, quick exit last: state carries from one to the
    next (the changed PIN, the removed duress PIN) exactly as on a real phone."""
    before = world.read_real()
    exits = Exits.take(world.session, world.runtime)
    _assert_parity(world, list(SCENARIOS), before, exits)


def test_a_check_in_missed_in_a_decoy_shows_the_welfare_check_a_real_one_shows(
    world: World,
) -> None:
    """The review's [medium] finding: a real account's missed check-in that nobody acknowledged
    in time asks the police for a welfare check, and her disclosure log shows it; the decoy's
    log must show the same line (agency, kind, basis, consent, time) though nobody was asked."""
    [scenario] = [s for s in SCENARIOS if s.script is welfare]
    before = world.read_real()
    exits = Exits.take(world.session, world.runtime)
    real, _decoy = _assert_parity(world, [scenario], before, exits)
    logs = [a.body for a in real.answers if a.step.endswith(f"GET {S}/disclosures")]
    # (Equal to the decoy's, and not two empty logs: nothing before the second window, then
    # the check.)
    assert [len(log["items"]) for log in logs] == [0, 1, 1]
    [line] = logs[1]["items"]
    assert (line["agency_kind"], line["kind"], line["basis"], line["direction"]) == (
        "police",
        "welfare_check",
        "consent",
        "out",
    )
    # The real line is what the police's endpoint really took; the decoy's reached nobody, and
    # no alert was even raised about the decoy.
    taken = [json.loads(request.body)["type"] for request in world.police_hook.sent]
    assert taken == ["alert.welfare_check"]
    raised = select(Alert.id).where(Alert.survivor_id.in_(decoy_ids(world.session, world.owner.id)))
    assert world.session.scalars(raised).all() == []


def test_a_pin_changed_in_a_decoy_opens_the_decoy_and_the_advocate_is_told(
    world: World,
) -> None:
    decoy = world.decoy_phone()
    pin(decoy)
    assert [a.status for a in decoy.answers if a.step.endswith("(the new PIN)")] == [200]
    # The new PIN opens the decoy, never the real account; the real PIN still opens that.
    fresh = token_of(decoy.login(NEW_PIN))
    assert CANARY not in world.client.get(PLAN, headers=auth_header(fresh)).get_data(as_text=True)
    real = token_of(decoy.login(SURVIVOR_PIN))
    assert CANARY in world.client.get(PLAN, headers=auth_header(real)).get_data(as_text=True)
    run_all_jobs(world.runtime)
    world.session.expire_all()
    told = world.session.scalars(
        select(StaffNotice.urgency).where(
            StaffNotice.survivor_id == world.owner.id,
            StaffNotice.kind == "duress_pin_changed_in_decoy",
        )
    ).all()
    assert told == ["urgent"]


def test_a_phone_number_set_in_a_decoy_is_kept_there_and_nowhere_else(world: World) -> None:
    """What a later check-in text reads: the decoy keeps the number it was given, sealed, under
    a blind index of its own and never the real one (so it never makes a real survivor's
    number shared, and only its own reply codes reach it: ``auth.survivors.decoys``); the real
    number is untouched."""
    world.session.expire_all()
    owner = world.session.get(Survivor, world.owner.id)
    assert owner is not None
    real_number = (owner.phone_enc, owner.phone_index)
    decoy = world.decoy_phone()
    assert decoy.put(f"{S}/phone", json={"phone": decoy.phone_number}).status_code == 204
    world.session.expire_all()
    [account_id, *_] = decoy_ids(world.session, world.owner.id)
    account = world.session.get(Survivor, account_id)
    assert account is not None
    assert survivor_phone(world.session, world.runtime.vault, account) == decoy.phone_number
    assert account.phone_index is None
    keyring = world.runtime.keyring
    assert account.decoy_phone_index == decoy_phone_index(keyring, decoy.phone_number)
    assert account.decoy_phone_index != phone_index(keyring, decoy.phone_number)
    owner = world.session.get(Survivor, world.owner.id)
    assert owner is not None
    assert (owner.phone_enc, owner.phone_index) == real_number
    assert decoy.delete(f"{S}/phone").status_code == 204
    world.session.expire_all()
    assert survivor_phone(world.session, world.runtime.vault, account) is None
    assert account.decoy_phone_index is None


def test_pin_changes_in_a_decoy_tell_nothing_about_the_real_pin(world: World) -> None:
    """A decoy session may change its PIN to any guess G and then log in with G. If the real
    PIN won a tie, G opening the real account would test the guess without a failure ever
    being counted. So a PIN that opens the decoy always opens the decoy, the real PIN among the
    guesses included: every guess reads back the same, and none reaches the real account."""
    decoy = world.decoy_phone()
    marker = decoy.post(f"{S}/messages", json={"body": "only the decoy has this"})
    assert marker.status_code == 201
    for guess in ("615243", "615244", SURVIVOR_PIN, "615246"):
        change = decoy.post(f"{S}/pin", json={"current_pin": decoy.pin, "new_pin": guess})
        assert change.status_code == 204, guess
        decoy.pin = guess
        login = decoy.login(guess)
        decoy.token = token_of(login)
        bodies = [m["body"] for m in decoy.get(f"{S}/messages").json["items"]]
        assert bodies == ["only the decoy has this"], guess
    # The real PIN now opens the decoy too: the owner's advocates were told so she gets help.
    notices = world.session.scalars(
        select(StaffNotice).where(StaffNotice.kind == "duress_pin_changed_in_decoy")
    ).all()
    assert any(n.details.get("real_pin_opens_decoy") for n in notices)
