"""Two survivors sharing one phone number: setting it answers the same whoever holds it, and an
inbound text reaches a survivor's record only when it carries her own reply code, and no other
holder's (messaging/sms/webhooks.py). Through the real signed inbound webhook."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from api.app import create_app
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import phone_index
from core.notices import StaffNotice
from core.runtime import Runtime
from messaging.checkins import states
from messaging.checkins.models import CheckinOccurrence, Escalation
from messaging.models import ConversationMessage, InboundSms
from tests.checkins.sms_world import twilio_app
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import (
    make_job_runner,
    post_signed,
)

SHARED = "+447911123456"
_sids = (f"SM{n:032x}" for n in itertools.count(0xA000))


@dataclass
class Holder:
    survivor: Survivor
    token: str
    advocate: StaffMember


@dataclass
class Household:
    client: JsonClient
    runtime: Runtime
    clock: FrozenClock
    session: Session
    a: Holder
    b: Holder
    since: dt.datetime  # the end of the setting up: notices from then on

    def text(self, body: str, sid: str | None = None) -> None:
        params = {"From": SHARED, "To": "+15005550006", "Body": body}
        r = post_signed(
            self.client, "/v1/sms/inbound", {**params, "MessageSid": sid or next(_sids)}
        )
        assert r.status_code == 200
        assert r.mimetype == "text/xml"

    def codes(self, who: Holder, safe: str, help_: str) -> None:
        r = self.client.put(
            "/v1/survivor/check-ins/settings",
            json={"safe_reply": safe, "help_reply": help_},
            headers=auth_header(who.token),
        )
        assert r.status_code == 200, r.json

    def occurrence(self, who: Holder) -> CheckinOccurrence:
        self.session.expire_all()
        return self.session.scalars(
            select(CheckinOccurrence).where(CheckinOccurrence.survivor_id == who.survivor.id)
        ).one()

    def escalations(self, who: Holder) -> list[Escalation]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(Escalation).where(Escalation.survivor_id == who.survivor.id)
            )
        )

    def notices(self, who: Holder) -> list[StaffNotice]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(StaffNotice)
                .where(
                    StaffNotice.recipient_id == who.advocate.id,
                    StaffNotice.created_at >= self.since,
                )
                .order_by(StaffNotice.created_at)
            )
        )

    def audit_of(self, who: Holder) -> list[str]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.survivor_id == who.survivor.id)
                .order_by(AuditEvent.occurred_at)
            )
        )


def _holder(session: Session, runtime: Runtime) -> Holder:
    advocate, _ = make_staff(session, runtime)
    survivor, token = make_survivor(session, runtime, advocate=advocate)
    return Holder(survivor, token, advocate)


@pytest.fixture
def home(runtime: Runtime, db_session: Session, clock: FrozenClock) -> Household:
    """A and B, each with her own advocate, both give the same number; each has an SMS
    check-in that has been sent; A's codes are 1/tulips, B's 7/roses."""
    clock.set(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    client, _http = twilio_app(runtime)
    a, b = _holder(db_session, runtime), _holder(db_session, runtime)
    db_session.commit()
    h = Household(client, runtime, clock, db_session, a, b, clock.now() + dt.timedelta(minutes=11))
    due = (clock.now() + dt.timedelta(minutes=10)).isoformat()
    for who, codes in ((a, ("1", "tulips")), (b, ("7", "roses"))):
        headers = auth_header(who.token)
        r = client.put("/v1/survivor/phone", json={"phone": SHARED}, headers=headers)
        assert r.status_code == 204
        h.codes(who, *codes)
        r = client.post(
            "/v1/survivor/check-ins",
            json={"kind": "one_off", "due_at": due, "template": "pharmacy"},
            headers=headers,
        )
        assert r.status_code == 201, r.json
    clock.advance(minutes=11)
    make_job_runner(runtime)()
    assert h.occurrence(a).state == h.occurrence(b).state == states.SENT
    return h


def test_each_survivors_reply_reaches_only_her_own_check_in(home: Household) -> None:
    a, b = home.a, home.b
    home.text("1")  # A's safe code
    assert home.occurrence(a).state == states.SAFE
    assert home.occurrence(b).state == states.SENT
    home.text("Roses")  # B's help code
    assert home.occurrence(b).state == states.ESCALATED
    assert home.occurrence(a).state == states.SAFE
    assert home.escalations(a) == []
    [esc] = home.escalations(b)
    assert esc.source == "help_reply"
    # Each advocate hears of her own survivor only.
    assert [n.kind for n in home.notices(a)] == []
    assert [(n.kind, n.survivor_id) for n in home.notices(b)] == [
        ("escalation.help_reply", b.survivor.id)
    ]
    assert home.session.scalar(select(func.count()).select_from(ConversationMessage)) == 0


def test_a_code_both_chose_reaches_neither_and_their_check_ins_still_escalate(
    home: Household,
) -> None:
    a, b = home.a, home.b
    home.codes(b, "1", "roses")  # B chose A's safe code too
    audit_a, audit_b = home.audit_of(a), home.audit_of(b)
    home.text("1")
    assert home.occurrence(a).state == home.occurrence(b).state == states.SENT
    row = home.session.scalars(select(InboundSms)).one()
    assert (row.survivor_id, row.outcome) == (None, "unattributed")
    assert home.notices(a) == home.notices(b) == []
    assert (home.audit_of(a), home.audit_of(b)) == (audit_a, audit_b)
    assert home.session.scalar(select(func.count()).select_from(ConversationMessage)) == 0
    # Nobody answered as far as the service can tell: both check-ins escalate as missed.
    home.clock.advance(hours=1)
    make_job_runner(home.runtime)()
    assert [e.source for e in home.escalations(a)] == ["missed"]
    assert [e.source for e in home.escalations(b)] == ["missed"]


def test_a_help_code_both_chose_is_urgent_to_both_advocates_but_in_neither_record(
    home: Household,
) -> None:
    a, b = home.a, home.b
    home.codes(b, "7", "tulips")  # B chose A's help code
    audit_a, audit_b = home.audit_of(a), home.audit_of(b)
    sid = next(_sids)
    home.text("tulips", sid)
    home.text("tulips", sid)  # Twilio's retry: one effect
    assert home.escalations(a) == home.escalations(b) == []
    assert home.occurrence(a).state == home.occurrence(b).state == states.SENT
    for who in (a, b):
        [notice] = home.notices(who)
        assert (notice.kind, notice.urgency, notice.survivor_id) == (
            "sms.help_unattributed",
            "urgent",
            None,
        )
        assert notice.details == {}
    assert (home.audit_of(a), home.audit_of(b)) == (audit_a, audit_b)


def test_a_message_from_a_shared_number_reaches_no_conversation(home: Household) -> None:
    a, b = home.a, home.b
    home.text("he is back, can someone call")
    assert home.session.scalar(select(func.count()).select_from(ConversationMessage)) == 0
    row = home.session.scalars(select(InboundSms)).one()
    assert (row.survivor_id, row.outcome) == (None, "unattributed")
    for who in (a, b):
        assert [(n.kind, n.urgency, n.survivor_id) for n in home.notices(who)] == [
            ("sms.unattributed", "info", None)
        ]
    home.text("HELP")  # a carrier keyword: nothing at all, as for a number held alone
    assert len(home.notices(a)) == 1


def test_stop_from_a_shared_number_stops_the_number_for_each_holder(home: Household) -> None:
    a, b = home.a, home.b
    home.text("STOP")
    for who in (a, b):
        assert [(n.kind, n.survivor_id) for n in home.notices(who)] == [
            ("sms_opt_out", who.survivor.id)
        ]
        assert home.audit_of(who)[-1] == "sms.opt_out"
    home.text("START")
    assert [n.kind for n in home.notices(a)] == ["sms_opt_out", "sms_opt_in"]


def test_an_erased_holder_no_longer_shares_the_number(home: Household) -> None:
    a, b = home.a, home.b
    row = home.session.get(Survivor, b.survivor.id)
    assert row is not None
    row.erased_at = home.clock.now()
    home.session.commit()
    home.text("can we talk tomorrow")
    [message] = home.session.scalars(select(ConversationMessage)).all()
    assert message.survivor_id == a.survivor.id


# --- setting a number ------------------------------------------------------------------------


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _put_phone(app: Flask, token: str, number: str, seen: list[str]) -> tuple[Any, list[str]]:
    seen.clear()
    r = JsonClient(app).put(
        "/v1/survivor/phone", json={"phone": number}, headers=auth_header(token)
    )
    return r, list(seen)


def test_setting_a_held_number_answers_and_works_exactly_as_a_free_one(
    app: Flask, db_session: Session, runtime: Runtime, statements: list[str]
) -> None:
    holder, holder_token = make_survivor(db_session, runtime)
    sharer, sharer_token = make_survivor(db_session, runtime)
    _loner, loner_token = make_survivor(db_session, runtime)
    db_session.commit()
    assert _put_phone(app, holder_token, SHARED, statements)[0].status_code == 204
    held, held_sql = _put_phone(app, sharer_token, SHARED, statements)
    free, free_sql = _put_phone(app, loner_token, "+447911123999", statements)
    assert (held.status_code, held.get_data()) == (free.status_code, free.get_data()) == (204, b"")
    ignore = {"x-request-id", "date"}
    assert {k: v for k, v in held.headers.items() if k.lower() not in ignore} == {
        k: v for k, v in free.headers.items() if k.lower() not in ignore
    }
    # The same work, statement for statement: nothing looks at who else holds the number.
    assert held_sql == free_sql
    db_session.expire_all()
    index = phone_index(runtime.keyring, SHARED)
    assert db_session.get_one(Survivor, holder.id).phone_index == index
    assert db_session.get_one(Survivor, sharer.id).phone_index == index


def test_two_survivors_setting_one_number_at_once_both_succeed(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    app = create_app(runtime.settings, runtime=runtime)
    with runtime.session_factory() as s:
        made = [make_survivor(s, runtime) for _ in range(4)]
        s.commit()
    barrier = threading.Barrier(len(made))
    answers: list[int] = []

    def put(token: str) -> None:
        client = JsonClient(app)
        barrier.wait(10)
        r = client.put("/v1/survivor/phone", json={"phone": SHARED}, headers=auth_header(token))
        answers.append(r.status_code)

    threads = [threading.Thread(target=put, args=(token,)) for _, token in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [204] * len(made)
    index = phone_index(runtime.keyring, SHARED)
    with runtime.session_factory() as s:
        ids: set[uuid.UUID] = set(
            s.scalars(select(Survivor.id).where(Survivor.phone_index == index))
        )
    assert ids == {survivor.id for survivor, _ in made}
