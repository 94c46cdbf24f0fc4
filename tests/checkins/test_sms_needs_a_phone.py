"""An SMS check-in needs a phone number: refused without one; moved to the app when the
survivor removes her number, where it still escalates if she does not answer."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.runtime import Runtime
from messaging.checkins import states
from messaging.checkins.models import CheckinOccurrence, CheckinSchedule, Escalation
from messaging.phone import set_phone
from tests.checkins.conftest import SURVIVOR_PHONE, World
from tests.factories import auth_header, make_device, make_survivor
from tests.json_client import JsonClient


def _fresh_token(world: World, db_session: Session) -> str:
    """A new device session (access tokens last 15 minutes; the tests travel for hours)."""
    token = make_device(db_session, world.runtime, world.survivor.id)[1]
    db_session.commit()
    return token


def _schedule(client: JsonClient, world: World, token: str, **body: Any) -> Any:
    due = (world.clock.now() + dt.timedelta(hours=1)).isoformat()
    return client.post(
        "/v1/survivor/check-ins",
        json={"kind": "one_off", "due_at": due, "template": "gym", **body},
        headers=auth_header(token),
    )


@pytest.mark.parametrize("body", [{}, {"channel": "sms"}])
def test_an_sms_check_in_without_a_phone_number_is_refused_clearly(
    world: World, client: JsonClient, db_session: Session, body: dict[str, str]
) -> None:
    survivor, token = make_survivor(db_session, world.runtime, advocate=world.advocate)
    db_session.commit()
    r = _schedule(client, world, token, **body)
    assert r.status_code == 422, r.json
    assert r.mimetype == "application/problem+json"
    assert r.json["type"].endswith("phone-number-needed")
    assert "phone number" in r.json["detail"]
    assert "phone number" in r.json["errors"]["channel"][0]
    count = select(func.count()).select_from(CheckinSchedule)
    assert db_session.scalar(count.where(CheckinSchedule.survivor_id == survivor.id)) == 0
    # The app channel needs no number; with a number, SMS is fine.
    assert _schedule(client, world, token, channel="app").status_code == 201
    h = auth_header(token)
    assert (
        client.put("/v1/survivor/phone", json={"phone": "+447911123001"}, headers=h).status_code
        == 204
    )
    assert _schedule(client, world, token, channel="sms").status_code == 201


def test_removing_the_number_moves_sms_check_ins_to_the_app(
    world: World, client: JsonClient, db_session: Session
) -> None:
    h = auth_header(world.survivor_token)
    assert _schedule(client, world, world.survivor_token, channel="sms").status_code == 201
    r = client.post(
        "/v1/survivor/check-ins",
        json={"kind": "recurring", "days": ["mon", "thu"], "at": "19:00", "template": "gym"},
        headers=h,
    )
    assert r.status_code == 201
    world.run_jobs()  # the occurrences are made, still to be sent by SMS
    assert client.delete("/v1/survivor/phone", headers=h).status_code == 204
    assert {s["channel"] for s in client.get("/v1/survivor/check-ins", headers=h).json} == {"app"}
    db_session.expire_all()
    waiting = db_session.scalars(
        select(CheckinOccurrence).where(CheckinOccurrence.state == states.SCHEDULED)
    ).all()
    assert waiting
    assert {o.channel for o in waiting} == {"app"}
    moved = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "checkin.moved_to_app")
    ).one()
    assert moved.survivor_id == world.survivor.id
    # When due: nothing is texted (no false "could not send" alarm), the app shows it.
    world.travel(hours=1, minutes=1)
    world.run_jobs()
    assert world.sms.to_survivors == []
    h = auth_header(_fresh_token(world, db_session))
    pending = client.get("/v1/survivor/check-ins/pending", headers=h).json
    assert [p["state"] for p in pending if p["state"] != states.SCHEDULED] == [states.SENT]
    # Unanswered, it escalates as missed, exactly as an app check-in does.
    world.travel(hours=1)
    world.run_jobs()
    db_session.expire_all()
    [esc] = db_session.scalars(select(Escalation)).all()
    assert esc.source == "missed"


def test_removing_the_number_moves_nothing_that_is_already_in_the_app_or_sent(
    world: World, client: JsonClient, db_session: Session
) -> None:
    h = auth_header(world.survivor_token)
    assert _schedule(client, world, world.survivor_token, channel="sms").status_code == 201
    world.run_jobs()
    world.travel(hours=1, minutes=1)
    world.run_jobs()  # sent by SMS: the text is out, a reply code may still come
    assert len(world.sms.to_survivors) == 1
    h = auth_header(_fresh_token(world, db_session))
    assert client.delete("/v1/survivor/phone", headers=h).status_code == 204
    db_session.expire_all()
    occ = db_session.scalars(select(CheckinOccurrence)).one()
    assert (occ.state, occ.channel) == (states.SENT, "sms")


def test_a_decoy_session_removing_the_number_moves_nothing(
    world: World, client: JsonClient, db_session: Session
) -> None:
    assert _schedule(client, world, world.survivor_token, channel="sms").status_code == 201
    decoy = make_device(db_session, world.runtime, world.survivor.id, decoy=True)[1]
    db_session.commit()
    assert client.delete("/v1/survivor/phone", headers=auth_header(decoy)).status_code == 204
    db_session.expire_all()
    assert db_session.scalars(select(CheckinSchedule.channel)).all() == ["sms"]
    real = db_session.get(Survivor, world.survivor.id)
    assert real is not None
    assert real.phone_enc is not None  # the real number is still on file


def test_no_sms_check_in_outlives_a_number_removed_at_the_same_moment(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    app = create_app(runtime.settings, runtime=runtime)
    with runtime.session_factory() as s:
        survivor, _ = make_survivor(s, runtime)
        set_phone(s, runtime.vault, survivor.id, SURVIVOR_PHONE)
        tokens = [make_device(s, runtime, survivor.id)[1] for _ in range(7)]
        s.commit()
    due = (runtime.clock.now() + dt.timedelta(hours=1)).isoformat()
    body = {"kind": "one_off", "channel": "sms", "due_at": due, "template": "gym"}
    barrier = threading.Barrier(7)
    answers: list[int] = []

    def act(token: str, remove: bool) -> None:
        client = JsonClient(app)
        barrier.wait(10)
        h = auth_header(token)
        if remove:
            r = client.delete("/v1/survivor/phone", headers=h)
        else:
            r = client.post("/v1/survivor/check-ins", json=body, headers=h)
        answers.append(r.status_code)

    threads = [threading.Thread(target=act, args=(token, i == 3)) for i, token in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) in ([201] * k + [204] + [422] * (6 - k) for k in range(7))
    with runtime.session_factory() as s:
        channels = s.scalars(select(CheckinSchedule.channel)).all()
        assert "sms" not in channels
        assert len(channels) == answers.count(201)
