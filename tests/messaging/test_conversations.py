"""Conversations over HTTP: receipts, unread counts, pages, disappearing, clearing, push."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.access.models import CaseloadEntry
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.clock import FrozenClock
from core.runtime import Runtime
from messaging import conversations as conv
from messaging.models import ConversationMessage, MessageReceipt
from messaging.push import NEUTRAL_TEXT, RecordingPushSender
from tests.decoy_exits import Exits, assert_only_the_alarm_left, decoy_ids, run_all_jobs
from tests.factories import auth_header, make_agency, make_device, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import RunJobs


@dataclass
class Team:
    survivor: Survivor
    a1: StaffMember
    a2: StaffMember
    s: dict[str, str]
    h1: dict[str, str]
    h2: dict[str, str]
    decoy: dict[str, str]


@pytest.fixture
def client(app: Flask) -> JsonClient:
    return JsonClient(app)


@pytest.fixture
def team(app: Flask, db_session: Session, runtime: Runtime) -> Team:
    a1, t1 = make_staff(db_session, runtime)
    a2, t2 = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, advocate=a1)
    db_session.add(
        CaseloadEntry(
            id=uuid.uuid4(),
            survivor_id=survivor.id,
            staff_id=a2.id,
            assigned_at=runtime.clock.now(),
        )
    )
    _d, decoy_token = make_device(db_session, runtime, survivor.id, decoy=True)
    db_session.commit()
    return Team(
        survivor,
        a1,
        a2,
        auth_header(token),
        auth_header(t1),
        auth_header(t2),
        auth_header(decoy_token),
    )


def _staff_path(team: Team, suffix: str = "") -> str:
    return f"/v1/staff/survivors/{team.survivor.id}/messages{suffix}"


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.get_data(as_text=True)
    return r.json


def _unread_for(client: JsonClient, headers: dict[str, str], survivor_id: uuid.UUID) -> int:
    items = _ok(client.get("/v1/staff/messages/unread", headers=headers))["items"]
    unread: int = next(i["unread"] for i in items if i["survivor_id"] == str(survivor_id))
    return unread


def test_two_advocates_and_a_survivor_see_the_right_counts_and_receipts(
    client: JsonClient, team: Team, runtime: Runtime, clock: FrozenClock, run_jobs: RunJobs
) -> None:
    m1 = _ok(client.post("/v1/survivor/messages", json={"body": "first"}, headers=team.s), 201)
    clock.advance(seconds=1)
    m2 = _ok(client.post("/v1/survivor/messages", json={"body": "second"}, headers=team.s), 201)
    assert m1["from"] == "me"
    assert m1["delivered_at"] is None
    assert m1["read_at"] is None
    assert _unread_for(client, team.h1, team.survivor.id) == 2
    assert _unread_for(client, team.h2, team.survivor.id) == 2

    # Advocate 1 fetches: delivered to them, not read.
    clock.advance(seconds=1)
    page = _ok(client.get(_staff_path(team), headers=team.h1))
    assert [m["body"] for m in page["items"]] == ["second", "first"]
    assert page["items"][0]["receipts"] == [
        {
            "reader": "staff",
            "staff_id": str(team.a1.id),
            "delivered_at": runtime.clock.now().isoformat(),
            "read_at": None,
        }
    ]
    assert _unread_for(client, team.h1, team.survivor.id) == 2
    mine = _ok(client.get("/v1/survivor/messages", headers=team.s))["items"]
    assert all(m["delivered_at"] is not None and m["read_at"] is None for m in mine)

    # Advocate 1 reads up to the first message only, then everything.
    _ok(client.post(_staff_path(team, "/read"), json={"up_to": m1["id"]}, headers=team.h1))
    assert _unread_for(client, team.h1, team.survivor.id) == 1
    r = _ok(client.post(_staff_path(team, "/read"), json={"up_to": m2["id"]}, headers=team.h1))
    assert r == {"unread": 0}
    assert _unread_for(client, team.h2, team.survivor.id) == 2  # advocate 2 has read nothing
    mine = _ok(client.get("/v1/survivor/messages", headers=team.s))["items"]
    assert all(m["read_at"] is not None for m in mine)

    # Advocate 2 answers: the survivor has one unread; advocate 1's count is unchanged.
    reply = _ok(client.post(_staff_path(team), json={"body": "we are here"}, headers=team.h2), 201)
    assert reply["from"] == "staff"
    assert reply["staff_id"] == str(team.a2.id)
    assert _ok(client.get("/v1/survivor/messages/unread", headers=team.s)) == {"unread": 1}
    assert _unread_for(client, team.h1, team.survivor.id) == 0
    seen = _ok(client.get("/v1/survivor/messages", headers=team.s))["items"][0]
    assert (seen["from"], seen["body"], seen["read_at"]) == ("team", "we are here", None)
    assert "staff_id" not in seen  # the app never names the advocate
    _ok(client.post("/v1/survivor/messages/read", json={"up_to": reply["id"]}, headers=team.s))
    assert _ok(client.get("/v1/survivor/messages/unread", headers=team.s)) == {"unread": 0}
    staff_view = _ok(client.get(_staff_path(team), headers=team.h1))["items"][0]
    assert staff_view["receipts"][0]["reader"] == "survivor"
    assert staff_view["receipts"][0]["read_at"] is not None

    # The survivor got one neutral push for the reply, never its text.
    run_jobs()
    push = wire(runtime).push
    assert isinstance(push, RecordingPushSender)
    assert push.sent == [(team.survivor.id, NEUTRAL_TEXT)]
    for word in ("lantern", "advocate", "abuse", "we are here", "safety", "domestic"):
        assert word not in NEUTRAL_TEXT.lower()


def test_pages_are_newest_first_and_complete(
    client: JsonClient, team: Team, clock: FrozenClock
) -> None:
    for i in range(5):
        client.post("/v1/survivor/messages", json={"body": f"m{i}"}, headers=team.s)
        if i != 2:  # two messages share a timestamp: the id breaks the tie
            clock.advance(seconds=1)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = _ok(client.get("/v1/survivor/messages" + q, headers=team.s))
        seen += [m["body"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["m0", "m1", "m2", "m3", "m4"]
    assert len(seen) == 5
    assert seen[0] == "m4"
    assert seen[-1] == "m0"
    r = client.get("/v1/survivor/messages?cursor=notacursor", headers=team.s)
    assert r.status_code == 422
    assert client.get("/v1/survivor/messages?limit=101", headers=team.s).status_code == 422


def test_expired_messages_are_gone_for_both_sides(
    client: JsonClient,
    team: Team,
    runtime: Runtime,
    clock: FrozenClock,
    db_session: Session,
    run_jobs: RunJobs,
) -> None:
    _ok(client.post("/v1/survivor/messages", json={"body": "keeps"}, headers=team.s), 201)
    r = client.put("/v1/survivor/messages/settings", json={"disappear_after": "1h"}, headers=team.s)
    assert _ok(r) == {"disappear_after": "1h", "reply_by_sms": False}
    assert (
        _ok(client.get("/v1/survivor/messages/settings", headers=team.s))["disappear_after"] == "1h"
    )
    clock.advance(seconds=1)
    m = _ok(client.post("/v1/survivor/messages", json={"body": "short-lived"}, headers=team.s), 201)
    assert m["expires_at"] is not None
    clock.advance(seconds=1)
    _ok(client.post(_staff_path(team), json={"body": "reply"}, headers=team.h1), 201)
    _ok(client.get(_staff_path(team), headers=team.h1))  # creates receipts too
    bad = client.put(
        "/v1/survivor/messages/settings", json={"disappear_after": "2h"}, headers=team.s
    )
    assert bad.status_code == 422
    # Tokens live 15 minutes, so the hour passes at the service layer, both readers alike.
    me = conv.Reader(conv.SURVIVOR, team.survivor.id)
    adv = conv.Reader(conv.STAFF, team.a2.id)

    def bodies(reader: conv.Reader) -> list[str]:
        views, _ = conv.list_messages(
            db_session, runtime.clock, runtime.vault, team.survivor.id, reader
        )
        return [v.body for v in views]

    counts = conv.unread_by_survivor(db_session, runtime.clock, team.a2.id, [team.survivor.id])
    assert counts == {team.survivor.id: 2}
    clock.advance(minutes=59)
    assert bodies(me) == ["reply", "short-lived", "keeps"]
    clock.advance(minutes=2)
    # Hidden at once, before any job runs, for both sides...
    assert bodies(me) == ["keeps"]
    assert bodies(adv) == ["keeps"]
    counts = conv.unread_by_survivor(db_session, runtime.clock, team.a2.id, [team.survivor.id])
    assert counts == {team.survivor.id: 1}  # was 2 before "short-lived" expired
    db_session.commit()
    # ...and deleted by the periodic job.
    run_jobs()
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(ConversationMessage)) == 1
    kept = db_session.scalars(select(ConversationMessage.id)).one()
    remaining = set(db_session.scalars(select(MessageReceipt.message_id)).all())
    assert remaining == {kept}


def test_clear_deletes_everything_at_once(
    client: JsonClient, team: Team, runtime: Runtime, db_session: Session
) -> None:
    _ok(client.post("/v1/survivor/messages", json={"body": "canary-clear-1"}, headers=team.s), 201)
    _ok(client.post(_staff_path(team), json={"body": "canary-clear-2"}, headers=team.h1), 201)
    _ok(client.get("/v1/survivor/messages", headers=team.s))
    assert client.post("/v1/survivor/messages/clear", headers=team.s).status_code == 204
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(ConversationMessage)) == 0
    assert db_session.scalar(select(func.count()).select_from(MessageReceipt)) == 0
    assert _ok(client.get(_staff_path(team), headers=team.h1))["items"] == []
    assert _ok(client.get("/v1/survivor/messages", headers=team.s))["items"] == []
    assert _unread_for(client, team.h1, team.survivor.id) == 0


def test_decoy_conversation_is_its_own_and_reaches_nobody(
    client: JsonClient, team: Team, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    _ok(client.post("/v1/survivor/messages", json={"body": "real"}, headers=team.s), 201)
    clock.advance(seconds=1)
    _ok(client.post(_staff_path(team), json={"body": "real reply"}, headers=team.h1), 201)
    clock.advance(seconds=1)
    run_all_jobs(runtime)  # the real reply's push goes before the decoy starts
    exits = Exits.take(db_session, runtime)
    unread_before = _unread_for(client, team.h1, team.survivor.id)
    page = _ok(client.get("/v1/survivor/messages", headers=team.decoy))
    assert page == {"items": [], "next_cursor": None}
    # What the decoy sends is kept in its own conversation, shaped like a real message.
    sent = _ok(client.post("/v1/survivor/messages", json={"body": "x"}, headers=team.decoy), 201)
    real = _ok(client.post("/v1/survivor/messages", json={"body": "y"}, headers=team.s), 201)
    assert set(sent) == set(real)
    assert sent["from"] == "me"
    clock.advance(seconds=1)
    again = _ok(client.post("/v1/survivor/messages", json={"body": "z"}, headers=team.decoy), 201)
    listed = _ok(client.get("/v1/survivor/messages", headers=team.decoy))
    assert [m["body"] for m in listed["items"]] == ["z", "x"]
    assert listed["items"][1] == sent
    assert _ok(client.get("/v1/survivor/messages/unread", headers=team.decoy)) == {"unread": 0}
    r = client.post("/v1/survivor/messages/read", json={"up_to": again["id"]}, headers=team.decoy)
    assert _ok(r) == {"unread": 0}
    # A real message id is not the decoy's to mark.
    r = client.post("/v1/survivor/messages/read", json={"up_to": real["id"]}, headers=team.decoy)
    assert (
        r.status_code
        == client.post(
            "/v1/survivor/messages/read", json={"up_to": str(uuid.uuid4())}, headers=team.decoy
        ).status_code
    )
    r = client.put(
        "/v1/survivor/messages/settings",
        json={"disappear_after": "1h", "reply_by_sms": True},
        headers=team.decoy,
    )
    assert _ok(r) == {"disappear_after": "1h", "reply_by_sms": True}
    settings = _ok(client.get("/v1/survivor/messages/settings", headers=team.decoy))
    assert settings == {"disappear_after": "1h", "reply_by_sms": True}
    assert (
        client.post("/v1/survivor/messages", json={"body": ""}, headers=team.decoy).status_code
        == 422
    )
    assert client.post("/v1/survivor/messages/clear", headers=team.decoy).status_code == 204
    assert _ok(client.get("/v1/survivor/messages", headers=team.decoy))["items"] == []
    # Nothing the decoy did reached the real conversation or its settings...
    bodies = [m["body"] for m in _ok(client.get("/v1/survivor/messages", headers=team.s))["items"]]
    assert bodies == ["y", "real reply", "real"]
    assert _ok(client.get("/v1/survivor/messages/settings", headers=team.s)) == {
        "disappear_after": "off",
        "reply_by_sms": False,
    }
    assert _ok(client.get("/v1/survivor/messages/unread", headers=team.s)) == {"unread": 1}
    # ...nor the advocates: their counts move only for the real "y", and the decoy account's
    # conversation is nobody's to read.
    assert _unread_for(client, team.h1, team.survivor.id) == unread_before + 1
    staff_view = _ok(client.get("/v1/staff/messages/unread", headers=team.h1))["items"]
    assert [i["survivor_id"] for i in staff_view] == [str(team.survivor.id)]
    decoy_id = decoy_ids(db_session, team.survivor.id)[0]
    r = client.get(f"/v1/staff/survivors/{decoy_id}/messages", headers=team.h1)
    assert r.status_code == 404
    run_all_jobs(runtime)
    assert_only_the_alarm_left(db_session, runtime, exits, team.survivor.id)


def test_staff_need_step_up_caseload_and_role(
    client: JsonClient, team: Team, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    _other, other_token = make_staff(db_session, runtime)
    _admin, admin_token = make_staff(db_session, runtime, role="admin")
    db_session.commit()
    assert client.get(_staff_path(team), headers=auth_header(other_token)).status_code == 404
    assert client.get(_staff_path(team), headers=auth_header(admin_token)).status_code == 403
    assert client.get(_staff_path(team), headers=team.s).status_code == 403
    assert client.get("/v1/survivor/messages", headers=team.h1).status_code == 403
    assert client.get(_staff_path(team)).status_code == 401
    clock.advance(minutes=16)
    r = client.get(_staff_path(team), headers=team.h1)
    assert r.status_code == 401
    assert r.json["type"].endswith("step-up-required")
    r = client.post(_staff_path(team), json={"body": "x"}, headers=team.h1)
    assert r.status_code == 401
    # Counts carry no content: no step-up for them.
    assert client.get("/v1/staff/messages/unread", headers=team.h1).status_code == 200


def test_read_marker_must_be_in_my_conversation(
    client: JsonClient, team: Team, runtime: Runtime, db_session: Session
) -> None:
    _other, token = make_survivor(db_session, runtime, advocate=team.a1)
    db_session.commit()
    theirs = _ok(
        client.post("/v1/survivor/messages", json={"body": "z"}, headers=auth_header(token)), 201
    )
    r = client.post("/v1/survivor/messages/read", json={"up_to": theirs["id"]}, headers=team.s)
    assert r.status_code == 404
    r = client.post(_staff_path(team, "/read"), json={"up_to": str(uuid.uuid4())}, headers=team.h1)
    assert r.status_code == 404


SURVIVOR_ROUTES = [
    ("GET", "/v1/survivor/messages", None),
    ("POST", "/v1/survivor/messages", {"body": "x"}),
    ("POST", "/v1/survivor/messages/read", {"up_to": str(uuid.uuid4())}),
    ("GET", "/v1/survivor/messages/unread", None),
    ("GET", "/v1/survivor/messages/settings", None),
    ("PUT", "/v1/survivor/messages/settings", {"disappear_after": "1h"}),
    ("POST", "/v1/survivor/messages/clear", None),
    ("PUT", "/v1/survivor/phone", {"phone": "+14155550100"}),
    ("DELETE", "/v1/survivor/phone", None),
]


def test_survivor_routes_refuse_everyone_but_a_survivor(
    client: JsonClient, team: Team, runtime: Runtime, db_session: Session
) -> None:
    _agency, partner_key = make_agency(db_session, runtime)
    db_session.commit()
    for method, path, body in SURVIVOR_ROUTES:
        for headers, expected in (
            ({}, 401),
            (team.h1, 403),
            (auth_header(partner_key), 403),
        ):
            r = client.open(path, method=method, json=body, headers=headers)
            assert r.status_code == expected, (method, path, r.status_code)
    for headers, expected in (({}, 401), (team.s, 403), (auth_header(partner_key), 403)):
        r = client.get("/v1/staff/messages/unread", headers=headers)
        assert r.status_code == expected
    # Nothing the refused calls asked for happened.
    assert _ok(client.get("/v1/survivor/messages/settings", headers=team.s)) == {
        "disappear_after": "off",
        "reply_by_sms": False,
    }


def test_reply_by_sms_texts_the_teams_replies_only_when_chosen(
    client: JsonClient, team: Team, runtime: Runtime, db_session: Session
) -> None:
    """A survivor who talks by plain SMS can ask for the team's replies as texts."""
    from messaging.models import OutboundSms
    from messaging.phone import set_phone

    set_phone(db_session, runtime.vault, team.survivor.id, "+447911123456")
    db_session.commit()
    _ok(client.post(_staff_path(team), json={"body": "app only"}, headers=team.h1), 201)
    assert db_session.scalar(select(func.count()).select_from(OutboundSms)) == 0
    r = client.put("/v1/survivor/messages/settings", json={"reply_by_sms": True}, headers=team.s)
    assert _ok(r) == {"disappear_after": "off", "reply_by_sms": True}
    m = _ok(client.post(_staff_path(team), json={"body": "call me at 5"}, headers=team.h1), 201)
    db_session.expire_all()
    [row] = db_session.scalars(select(OutboundSms)).all()
    assert (row.purpose, row.reference_id, row.survivor_id) == (
        "conversation",
        uuid.UUID(m["id"]),
        team.survivor.id,
    )
    # A decoy session cannot switch it off (or on) for real.
    r = client.put(
        "/v1/survivor/messages/settings", json={"reply_by_sms": False}, headers=team.decoy
    )
    assert _ok(r)["reply_by_sms"] is False
    assert _ok(client.get("/v1/survivor/messages/settings", headers=team.s))["reply_by_sms"] is True
