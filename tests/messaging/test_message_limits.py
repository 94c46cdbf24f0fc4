"""Messages a minute: per survivor, and per staff member across every survivor they write to.

A refused message is not stored at all (no row, no push job), and the refusal says when the
window frees a slot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.clock import FrozenClock
from core.jobs import Job
from core.runtime import Runtime
from messaging.models import ConversationMessage
from messaging.phone import set_phone
from messaging.push import PUSH_JOB
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient, JsonResponse
from tests.messaging.conftest import post_signed
from tests.refusals import assert_refused

SEND = "/v1/survivor/messages"
PHONE = "+14155550177"


@dataclass
class Pair:
    advocate: StaffMember
    survivors: list[Survivor]
    staff: dict[str, str]
    survivor_headers: list[dict[str, str]]


@pytest.fixture
def pair(app: Flask, db_session: Session, runtime: Runtime) -> Pair:
    advocate, token = make_staff(db_session, runtime)
    one, t1 = make_survivor(db_session, runtime, advocate=advocate)
    two, t2 = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()
    return Pair(advocate, [one, two], auth_header(token), [auth_header(t1), auth_header(t2)])


def _stored(db_session: Session, **where: object) -> int:
    db_session.expire_all()
    stmt = select(func.count()).select_from(ConversationMessage).filter_by(**where)
    return int(db_session.scalar(stmt) or 0)


def _staff_send(client: JsonClient, pair: Pair, survivor: Survivor, body: str) -> JsonResponse:
    return client.post(
        f"/v1/staff/survivors/{survivor.id}/messages", json={"body": body}, headers=pair.staff
    )


def test_survivor_messages_per_minute_boundary_and_the_window_frees_a_slot(
    client: JsonClient, pair: Pair, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    h = pair.survivor_headers[0]
    limit = runtime.settings.survivor_messages_per_minute
    for n in range(limit):
        assert client.post(SEND, json={"body": f"message {n}"}, headers=h).status_code == 201
        if n < 10:
            clock.advance(seconds=1)
    r = client.post(SEND, json={"body": "one too many"}, headers=h)
    # The first message was ten seconds ago: its slot frees sixty seconds after it was sent.
    assert_refused(r, 429, "messages-limited", retry_after=50)
    survivor_id = pair.survivors[0].id
    assert _stored(db_session, survivor_id=survivor_id) == limit
    # Another survivor's allowance is their own.
    assert (
        client.post(SEND, json={"body": "hi"}, headers=pair.survivor_headers[1]).status_code == 201
    )
    clock.advance(seconds=49)
    assert_refused(client.post(SEND, json={"body": "soon"}, headers=h), 429, "messages-limited", 1)
    clock.advance(seconds=1)
    assert client.post(SEND, json={"body": "now"}, headers=h).status_code == 201
    assert _stored(db_session, survivor_id=survivor_id) == limit + 1


def test_a_staff_members_messages_count_across_every_survivor(
    client: JsonClient, pair: Pair, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    limit = runtime.settings.staff_messages_per_minute
    for n in range(limit):
        r = _staff_send(client, pair, pair.survivors[n % 2], f"note {n}")
        assert r.status_code == 201, r.get_data(as_text=True)
    pushes = db_session.scalar(select(func.count()).select_from(Job).where(Job.kind == PUSH_JOB))
    r = _staff_send(client, pair, pair.survivors[0], "one too many")
    assert_refused(r, 429, "messages-limited", retry_after=60)
    assert _stored(db_session, sender_staff_id=pair.advocate.id) == limit
    db_session.expire_all()
    assert (
        db_session.scalar(select(func.count()).select_from(Job).where(Job.kind == PUSH_JOB))
        == pushes
    ), "a refused message queues no push either"
    # The survivors are not held back by their advocate's sends.
    for h in pair.survivor_headers:
        assert client.post(SEND, json={"body": "still here"}, headers=h).status_code == 201
    clock.advance(seconds=60)
    assert _staff_send(client, pair, pair.survivors[1], "next minute").status_code == 201


def test_texts_by_sms_count_toward_the_minute_but_are_never_refused(
    console_app: Flask, pair: Pair, runtime: Runtime, db_session: Session
) -> None:
    runtime.settings = runtime.settings.replace(survivor_messages_per_minute=2)
    survivor = pair.survivors[0]
    set_phone(db_session, runtime.vault, survivor.id, PHONE)
    db_session.commit()
    client = JsonClient(console_app)
    for n in range(3):
        params = {"MessageSid": "SM" + uuid.uuid4().hex, "From": PHONE, "Body": f"text {n}"}
        assert post_signed(client, "/v1/sms/inbound", params).status_code == 200
    assert _stored(db_session, survivor_id=survivor.id) == 3
    r = client.post(SEND, json={"body": "from the app"}, headers=pair.survivor_headers[0])
    assert_refused(r, 429, "messages-limited", retry_after=60)
