"""Check-ins over HTTP: what the survivor's app and the advocate's console see."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from messaging.checkins.models import CheckinOccurrence, CheckinSettings
from messaging.checkins.templates import DENY_WORDS, TEMPLATES
from tests.checkins.conftest import World
from tests.decoy_exits import Exits, assert_only_the_alarm_left, decoy_ids
from tests.factories import auth_header, make_device, make_staff
from tests.json_client import JsonClient


def _setup(client: JsonClient, token: str) -> None:
    r = client.put(
        "/v1/survivor/check-ins/settings",
        json={
            "safe_reply": "1",
            "help_reply": "2",
            "grace_minutes": 15,
            "timezone": "Europe/London",
        },
        headers=auth_header(token),
    )
    assert r.status_code == 200, r.json
    assert r.json["reply_codes_set"] is True
    assert "safe_reply" not in r.json
    assert "help_reply" not in r.json


def test_survivor_schedules_and_answers_in_app(
    world: World, client: JsonClient, db_session: Session
) -> None:
    h = auth_header(world.survivor_token)
    _setup(client, world.survivor_token)
    due = (world.clock.now() + dt.timedelta(hours=1)).isoformat()
    r = client.post(
        "/v1/survivor/check-ins",
        json={"kind": "one_off", "due_at": due, "template": "gym"},
        headers=h,
    )
    assert r.status_code == 201, r.json
    assert r.json["template"] == "gym"
    assert r.json["custom_text"] is False
    listed = client.get("/v1/survivor/check-ins", headers=h).json
    assert [s["id"] for s in listed] == [r.json["id"]]
    # Occurrences are made by a worker, not by the request; the job was queued with the
    # schedule, so the next worker pass makes it (not the next periodic sweep).
    assert client.get("/v1/survivor/check-ins/pending", headers=h).json == []
    world.run_jobs()
    [pending] = client.get("/v1/survivor/check-ins/pending", headers=h).json
    assert pending["state"] == "scheduled"
    r = client.post(
        f"/v1/survivor/check-ins/occurrences/{pending['id']}/answer",
        json={"answer": "safe"},
        headers=h,
    )
    assert r.status_code == 200
    assert r.json["state"] == "safe"
    assert client.get("/v1/survivor/check-ins/pending", headers=h).json == []


def test_recurring_needs_days_and_time_and_custom_text_is_checked(
    world: World, client: JsonClient
) -> None:
    h = auth_header(world.survivor_token)
    bad = [
        {"kind": "recurring", "days": ["mon"]},
        {"kind": "recurring", "days": ["mon"], "at": "7pm"},
        {"kind": "one_off", "due_at": "2020-01-01T00:00:00+00:00"},
        {
            "kind": "one_off",
            "due_at": (world.clock.now() + dt.timedelta(hours=1)).isoformat(),
            "custom_text": "Your advocate is checking on you",
        },
        {
            "kind": "one_off",
            "due_at": (world.clock.now() + dt.timedelta(hours=1)).isoformat(),
            "custom_text": "see https://example.com",
        },
        {"kind": "one_off", "channel": "pigeon"},
    ]
    for body in bad:
        r = client.post("/v1/survivor/check-ins", json=body, headers=h)
        assert r.status_code == 422, (body, r.json)
        assert r.mimetype == "application/problem+json"
    ok = {
        "kind": "recurring",
        "days": ["mon", "thu"],
        "at": "19:00",
        "custom_text": "Your order is ready",
    }
    r = client.post("/v1/survivor/check-ins", json=ok, headers=h)
    assert r.status_code == 201, r.json
    assert r.json["custom_text"] is True
    assert r.json["days"] == ["mon", "thu"]


def test_reply_codes_refuse_reserved_words_and_duplicates(
    world: World, client: JsonClient
) -> None:
    h = auth_header(world.survivor_token)
    for body in (
        {"safe_reply": "STOP"},
        {"help_reply": "help"},
        {"safe_reply": "x", "help_reply": " X "},
    ):
        r = client.put("/v1/survivor/check-ins/settings", json=body, headers=h)
        assert r.status_code == 422, body
    assert (
        client.put(
            "/v1/survivor/check-ins/settings", json={"grace_minutes": 4}, headers=h
        ).status_code
        == 422
    )
    assert (
        client.put(
            "/v1/survivor/check-ins/settings", json={"grace_minutes": 241}, headers=h
        ).status_code
        == 422
    )


def test_every_template_is_neutral() -> None:
    for text in TEMPLATES.values():
        lowered = text.lower()
        assert not any(word in lowered for word in DENY_WORDS), text
        assert "http" not in lowered
        assert "www" not in lowered


def _decoy(db_session: Session, world: World) -> dict[str, str]:
    _, token = make_device(db_session, world.runtime, world.survivor.id, decoy=True)
    db_session.commit()
    return auth_header(token)


def test_decoy_check_ins_are_its_own_run_as_real_and_reach_nobody(
    world: World, client: JsonClient, db_session: Session
) -> None:
    _setup(client, world.survivor_token)
    real = auth_header(world.survivor_token)
    # The real check-in is due after everything below, so all that happens to it is the
    # decoy's doing.
    real_due = (world.clock.now() + dt.timedelta(days=7)).isoformat()
    r = client.post(
        "/v1/survivor/check-ins", json={"kind": "one_off", "due_at": real_due}, headers=real
    )
    assert r.status_code == 201
    world.run_jobs()
    due = (world.clock.now() + dt.timedelta(hours=1)).isoformat()
    decoy = _decoy(db_session, world)
    exits = Exits.take(db_session, world.runtime)
    # The real check-ins are not the decoy's to see or cancel.
    assert client.get("/v1/survivor/check-ins", headers=decoy).json == []
    assert client.get("/v1/survivor/check-ins/pending", headers=decoy).json == []
    assert client.delete(f"/v1/survivor/check-ins/{r.json['id']}", headers=decoy).status_code == 404
    settings = client.get("/v1/survivor/check-ins/settings", headers=decoy).json
    assert settings["reply_codes_set"] is False
    assert settings["timezone"] == "UTC"
    # The decoy's own settings and check-ins are kept, come due and are answered as real ones.
    r = client.put(
        "/v1/survivor/check-ins/settings",
        json={"safe_reply": "5", "help_reply": "6", "grace_minutes": 15},
        headers=decoy,
    )
    assert r.json["reply_codes_set"] is True
    assert client.get("/v1/survivor/check-ins/settings", headers=decoy).json == r.json
    app_checkin = {"kind": "one_off", "channel": "app", "due_at": due}
    mine = client.post("/v1/survivor/check-ins", json=app_checkin, headers=decoy)
    assert mine.status_code == 201
    assert client.get("/v1/survivor/check-ins", headers=decoy).json == [mine.json]
    world.run_jobs()
    [waiting] = client.get("/v1/survivor/check-ins/pending", headers=decoy).json
    assert (waiting["schedule_id"], waiting["state"]) == (mine.json["id"], "scheduled")
    world.travel(hours=1)
    world.run_jobs()
    decoy = _decoy(db_session, world)  # access tokens last 15 minutes: a new duress login
    [sent] = client.get("/v1/survivor/check-ins/pending", headers=decoy).json
    assert sent["state"] == "sent"
    assert client.post("/v1/survivor/check-ins/safe-now", headers=decoy).json == {"answered": 1}
    assert client.get("/v1/survivor/check-ins/pending", headers=decoy).json == []
    # One left to run out is missed without anyone being told.
    later = (world.clock.now() + dt.timedelta(minutes=10)).isoformat()
    client.post("/v1/survivor/check-ins", json=app_checkin | {"due_at": later}, headers=decoy)
    world.run_jobs()
    world.travel(hours=1)
    world.run_jobs()
    decoy = _decoy(db_session, world)
    assert client.get("/v1/survivor/check-ins/pending", headers=decoy).json == []
    # The real settings and check-in are untouched; nothing reached a person.
    db_session.expire_all()
    row = db_session.get(CheckinSettings, world.survivor.id)
    assert row is not None
    assert row.grace_minutes == 15
    real_occurrences = db_session.scalars(
        select(CheckinOccurrence).where(CheckinOccurrence.survivor_id == world.survivor.id)
    ).all()
    assert [(o.state, o.answered_at) for o in real_occurrences] == [("scheduled", None)]
    world.travel(days=2)
    world.run_jobs()
    assert_only_the_alarm_left(db_session, world.runtime, exits, world.survivor.id)
    decoy_id = decoy_ids(db_session, world.survivor.id)[0]
    assert [c for c in world.sms.to_survivors if c[0] == decoy_id] == []
    assert [c for c in world.welfare.calls if c[0] == decoy_id] == []


def test_a_help_answer_in_a_decoy_reads_as_in_a_real_account(
    world: World, client: JsonClient, db_session: Session
) -> None:
    """A real help answer escalates, and the app shows it escalated; so must the decoy's,
    without telling anyone (nobody is, but the answer must not give that away)."""
    answers = []
    for decoy in (False, True):
        h = _decoy(db_session, world) if decoy else auth_header(world.survivor_token)
        due = (world.clock.now() + dt.timedelta(minutes=10)).isoformat()
        checkin = {"kind": "one_off", "channel": "app", "due_at": due}
        assert client.post("/v1/survivor/check-ins", json=checkin, headers=h).status_code == 201
        world.run_jobs()
        world.travel(minutes=10)
        world.run_jobs()
        [occ] = client.get("/v1/survivor/check-ins/pending", headers=h).json
        path = f"/v1/survivor/check-ins/occurrences/{occ['id']}/answer"
        help_ = client.post(path, json={"answer": "help"}, headers=h).json
        late = client.post(path, json={"answer": "safe"}, headers=h).json
        answers.append((help_["state"], late["state"]))
    assert answers[0] == ("escalated", "escalated")
    assert answers[1] == answers[0]


def test_advocate_queue_acknowledge_resolve(
    world: World, client: JsonClient, db_session: Session
) -> None:
    _setup(client, world.survivor_token)
    h = auth_header(world.survivor_token)
    due = (world.clock.now() + dt.timedelta(minutes=10)).isoformat()
    client.post("/v1/survivor/check-ins", json={"kind": "one_off", "due_at": due}, headers=h)
    world.run_jobs()
    [pending] = client.get("/v1/survivor/check-ins/pending", headers=h).json
    r = client.post(
        f"/v1/survivor/check-ins/occurrences/{pending['id']}/answer",
        json={"answer": "help"},
        headers=h,
    )
    assert r.json["state"] == "escalated"
    staff = auth_header(world.advocate_token)
    [item] = client.get("/v1/staff/escalations", headers=staff).json
    assert item["source"] == "help_reply"
    assert item["state"] == "escalated"
    _other, other_token = make_staff(db_session, world.runtime, role="advocate")
    db_session.commit()
    assert client.get("/v1/staff/escalations", headers=auth_header(other_token)).json == []
    assert (
        client.post(
            f"/v1/staff/escalations/{item['id']}/acknowledge", headers=auth_header(other_token)
        ).status_code
        == 404
    )
    r = client.post(f"/v1/staff/escalations/{item['id']}/acknowledge", headers=staff)
    assert r.status_code == 200
    assert r.json["state"] == "acknowledged"
    r = client.post(
        f"/v1/staff/escalations/{item['id']}/resolve",
        json={"note": "Spoke to her, safe at a friend's."},
        headers=staff,
    )
    assert r.status_code == 200
    assert r.json["state"] == "resolved"
    assert r.json["resolution_note"] == "Spoke to her, safe at a friend's."
    assert client.get("/v1/staff/escalations", headers=staff).json == []
    closed = client.get("/v1/staff/escalations?include_resolved=true", headers=staff).json
    assert closed[0]["resolution_note"] is None  # notes are not listed in the queue
