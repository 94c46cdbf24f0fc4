"""Twilio webhooks: signatures, dedupe, STOP/START/HELP, routing, forward-only status."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.crypto import phone_index
from core.notices import StaffNotice
from core.runtime import Runtime
from messaging import conversations
from messaging.models import ConversationMessage, InboundSms, OutboundSms
from messaging.phone import set_phone
from messaging.sms import sending
from messaging.sms.gateway import ConsoleSmsGateway
from messaging.sms.webhooks import EMPTY_TWIML
from tests.factories import make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import RunJobs, post_signed, sign

PHONE = "+14155550142"
INBOUND = "/v1/sms/inbound"
STATUS = "/v1/sms/status"


@pytest.fixture
def known(
    console_app: Flask, db_session: Session, runtime: Runtime
) -> tuple[Survivor, list[StaffMember]]:
    a1, _ = make_staff(db_session, runtime)
    a2, _ = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=a1)
    from auth.access.models import CaseloadEntry

    db_session.add(
        CaseloadEntry(
            id=uuid.uuid4(),
            survivor_id=survivor.id,
            staff_id=a2.id,
            assigned_at=runtime.clock.now(),
        )
    )
    set_phone(db_session, runtime.vault, survivor.id, PHONE)
    db_session.commit()
    return survivor, [a1, a2]


@pytest.fixture
def client(console_app: Flask) -> JsonClient:
    return JsonClient(console_app)


def _sms(body: str, sid: str | None = None, sender: str = PHONE) -> dict[str, str]:
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }


def _count(db_session: Session, model: Any) -> int:
    db_session.expire_all()
    return int(db_session.scalar(select(func.count()).select_from(model)) or 0)


def _assert_twiml(r: Any) -> None:
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "text/xml"
    assert r.get_data(as_text=True) == EMPTY_TWIML


def _messages(db_session: Session, runtime: Runtime, survivor: Survivor) -> list[str]:
    db_session.expire_all()
    rows = db_session.scalars(
        select(ConversationMessage).where(ConversationMessage.survivor_id == survivor.id)
    ).all()
    return [
        runtime.vault.open_text(db_session, conversations._binding(m.id, survivor.id), m.body_enc)
        for m in rows
    ]


def test_message_from_known_number_goes_into_conversation(
    client: JsonClient, db_session: Session, runtime: Runtime, known: tuple[Survivor, Any]
) -> None:
    survivor, _ = known
    r = post_signed(client, INBOUND, _sms("can we talk tomorrow"))
    _assert_twiml(r)
    assert _messages(db_session, runtime, survivor) == ["can we talk tomorrow"]
    msg = db_session.scalars(select(ConversationMessage)).one()
    assert (msg.sender_kind, msg.via) == ("survivor", "sms")


@pytest.mark.parametrize(
    "tamper",
    ["wrong_token", "altered_body", "missing", "request_url", "garbage"],
)
def test_bad_signature_is_403_and_has_no_effect(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    known: tuple[Survivor, Any],
    tamper: str,
) -> None:
    params = _sms("STOP")
    if tamper == "wrong_token":
        sig = sign(params, INBOUND, token="not-the-token")
    elif tamper == "altered_body":
        sig = sign({**params, "Body": "hello"}, INBOUND)
    elif tamper == "missing":
        sig = ""
    elif tamper == "request_url":
        # Signed for the URL the app sees (not the public one): refused.
        from twilio.request_validator import RequestValidator

        from tests.messaging.conftest import AUTH_TOKEN

        sig = RequestValidator(AUTH_TOKEN).compute_signature("http://localhost" + INBOUND, params)
    else:
        sig = "AAAA"
    r = post_signed(client, INBOUND, params, signature=sig)
    assert r.status_code == 403
    assert r.mimetype == "application/problem+json"
    assert _count(db_session, InboundSms) == 0
    assert _count(db_session, StaffNotice) == 0
    assert not sending.is_opted_out(db_session, phone_index(runtime.keyring, PHONE))


def test_webhooks_refused_when_no_auth_token_configured(app: Flask, db_session: Session) -> None:
    r = post_signed(JsonClient(app), INBOUND, _sms("hi"))
    assert r.status_code == 403


def test_duplicate_message_sid_has_one_effect(
    client: JsonClient, db_session: Session, runtime: Runtime, known: tuple[Survivor, Any]
) -> None:
    survivor, _ = known
    params = _sms("are you there?")
    for _ in range(5):
        _assert_twiml(post_signed(client, INBOUND, params))
    assert _messages(db_session, runtime, survivor) == ["are you there?"]
    assert _count(db_session, InboundSms) == 1


def test_unknown_number_gets_the_same_answer_and_nothing_happens(
    client: JsonClient, db_session: Session, runtime: Runtime, known: tuple[Survivor, Any]
) -> None:
    known_answer = post_signed(client, INBOUND, _sms("hello"))
    before = (_count(db_session, InboundSms), _count(db_session, ConversationMessage))
    for body in ("hello", "STOP", "HELP", "START"):
        r = post_signed(client, INBOUND, _sms(body, sender="+14155550199"))
        _assert_twiml(r)
        assert r.get_data() == known_answer.get_data()
        assert r.headers.get("Content-Type") == known_answer.headers.get("Content-Type")
    assert (_count(db_session, InboundSms), _count(db_session, ConversationMessage)) == before
    assert _count(db_session, StaffNotice) == 0
    r = post_signed(client, INBOUND, _sms("x", sender="not a number"))
    _assert_twiml(r)


def test_stop_opts_out_notifies_advocates_and_blocks_sending(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    known: tuple[Survivor, Any],
    run_jobs: RunJobs,
) -> None:
    survivor, advocates = known
    _assert_twiml(post_signed(client, INBOUND, _sms(" stop ")))
    index = phone_index(runtime.keyring, PHONE)
    assert sending.is_opted_out(db_session, index)
    notices = db_session.scalars(select(StaffNotice)).all()
    assert sorted(n.recipient_id for n in notices) == sorted(a.id for a in advocates)
    assert {(n.kind, n.urgency, n.survivor_id) for n in notices} == {
        ("sms_opt_out", "high", survivor.id)
    }
    assert all(n.details == {} for n in notices)
    # A second STOP (a new message) changes nothing more and alerts no one again.
    _assert_twiml(post_signed(client, INBOUND, _sms("STOP")))
    assert _count(db_session, StaffNotice) == 2
    assert _messages(db_session, runtime, survivor) == []  # keywords are not conversation
    row = sending.queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=PHONE,
        body="hi",
        purpose="check_in",
        survivor_id=survivor.id,
    )
    db_session.commit()
    run_jobs()
    gateway = wire(runtime).sms.gateway
    assert isinstance(gateway, ConsoleSmsGateway)
    assert gateway.sent == []
    db_session.expire_all()
    assert db_session.get_one(OutboundSms, row.id).failure_reason == "opted_out"
    _assert_twiml(post_signed(client, INBOUND, _sms("START")))
    assert not sending.is_opted_out(db_session, index)
    db_session.expire_all()
    opt_in = db_session.scalars(select(StaffNotice).where(StaffNotice.kind == "sms_opt_in")).all()
    assert sorted(n.recipient_id for n in opt_in) == sorted(a.id for a in advocates)
    assert {n.urgency for n in opt_in} == {"info"}


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_stop_word_opts_out(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    known: tuple[Survivor, Any],
    word: str,
) -> None:
    _assert_twiml(post_signed(client, INBOUND, _sms(word)))
    assert sending.is_opted_out(db_session, phone_index(runtime.keyring, PHONE))
    _assert_twiml(post_signed(client, INBOUND, _sms("UNSTOP")))
    assert not sending.is_opted_out(db_session, phone_index(runtime.keyring, PHONE))


def test_help_reveals_nothing_and_does_nothing(
    client: JsonClient, db_session: Session, runtime: Runtime, known: tuple[Survivor, Any]
) -> None:
    survivor, _ = known
    _assert_twiml(post_signed(client, INBOUND, _sms("HELP")))
    assert _messages(db_session, runtime, survivor) == []
    assert _count(db_session, StaffNotice) == 0


def test_router_that_claims_a_reply_stops_it_reaching_the_conversation(
    client: JsonClient, db_session: Session, runtime: Runtime, known: tuple[Survivor, Any]
) -> None:
    survivor, _ = known
    seen: list[tuple[uuid.UUID, str]] = []

    def router(session: Session, clock: Any, survivor_id: uuid.UUID, body: str) -> bool:
        seen.append((survivor_id, body))
        return body == "4417"

    wire(runtime).hooks.inbound_sms.register("test.router", router)
    _assert_twiml(post_signed(client, INBOUND, _sms("4417")))
    _assert_twiml(post_signed(client, INBOUND, _sms("not a code")))
    _assert_twiml(post_signed(client, INBOUND, _sms("STOP")))  # never routed: the law's word
    assert seen == [(survivor.id, "4417"), (survivor.id, "not a code")]
    assert _messages(db_session, runtime, survivor) == ["not a code"]
    outcomes = sorted(db_session.scalars(select(InboundSms.outcome)))
    assert outcomes == ["message", "routed", "stop"]


def test_help_is_offered_to_the_routers_first(
    client: JsonClient, db_session: Session, runtime: Runtime, known: tuple[Survivor, Any]
) -> None:
    survivor, _ = known
    claimed: list[str] = []

    def router(session: Session, clock: Any, survivor_id: uuid.UUID, body: str) -> bool:
        claimed.append(body)
        return True  # e.g. a pending check-in whose "I need help" reply is the word HELP

    wire(runtime).hooks.inbound_sms.register("test.router", router)
    _assert_twiml(post_signed(client, INBOUND, _sms("Help")))
    assert claimed == ["Help"]
    assert db_session.scalars(select(InboundSms.outcome)).all() == ["routed"]
    assert _messages(db_session, runtime, survivor) == []


# --- status callbacks ------------------------------------------------------------------------


def _sent_row(db_session: Session, runtime: Runtime, purpose: str = "check_in") -> OutboundSms:
    survivor, _ = make_survivor(db_session, runtime)
    row = sending.queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164=PHONE,
        body="hello",
        purpose=purpose,
        survivor_id=survivor.id,
    )
    row.provider_sid = "SM" + uuid.uuid4().hex
    db_session.commit()
    return row


def _status(client: JsonClient, sid: str, status: str, code: str = "") -> Any:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if code:
        params["ErrorCode"] = code
    return post_signed(client, STATUS, params)


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["queued", "sending", "sent", "delivered"]))
)
def test_status_callbacks_in_any_order_end_delivered(
    client: JsonClient, db_session: Session, runtime: Runtime, order: tuple[str, ...]
) -> None:
    row = _sent_row(db_session, runtime)
    assert row.provider_sid is not None
    for status in order:
        _assert_twiml(_status(client, row.provider_sid, status))
        _assert_twiml(_status(client, row.provider_sid, status))  # and again: idempotent
    db_session.expire_all()
    fresh = db_session.get(OutboundSms, row.id)
    assert fresh is not None
    assert fresh.status == "delivered"


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(["sending", "sent", "undelivered"])),
)
def test_undelivered_is_terminal_and_calls_hooks_once(
    client: JsonClient, db_session: Session, runtime: Runtime, order: tuple[str, ...]
) -> None:
    calls: list[tuple[uuid.UUID, str]] = []
    wire(runtime).hooks.sms_failure.register(
        "test.calls", lambda s, c, sms_id, purpose, ref: calls.append((sms_id, purpose))
    )
    row = _sent_row(db_session, runtime)
    assert row.provider_sid is not None
    for status in (*order, "undelivered", "delivered"):
        _assert_twiml(_status(client, row.provider_sid, status, code="30005"))
    db_session.expire_all()
    fresh = db_session.get(OutboundSms, row.id)
    assert fresh is not None
    assert (fresh.status, fresh.failure_reason) == ("undelivered", "provider_30005")
    assert calls == [(row.id, "check_in")]


def test_forged_status_callback_changes_nothing(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    row = _sent_row(db_session, runtime)
    params = {"MessageSid": row.provider_sid or "", "MessageStatus": "failed"}
    r = post_signed(client, STATUS, params, signature=sign(params, STATUS, token="forged"))
    assert r.status_code == 403
    db_session.expire_all()
    assert db_session.get_one(OutboundSms, row.id).status == "queued"


def test_status_for_unknown_sid_is_accepted_without_effect(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    row = _sent_row(db_session, runtime)
    _assert_twiml(_status(client, "SM" + "f" * 32, "failed"))
    _assert_twiml(_status(client, row.provider_sid or "", "no-such-status"))
    db_session.expire_all()
    assert db_session.get_one(OutboundSms, row.id).status == "queued"


@pytest.mark.parametrize("sid", ["SM\x00" + "a" * 31, "SM" + "a" * 80, "not-a-sid", ""])
def test_signed_post_with_a_malformed_message_sid_changes_nothing(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    known: tuple[Survivor, Any],
    sid: str,
) -> None:
    """Signed or not, a SID Twilio would never send (a NUL breaks PostgreSQL text) is ignored
    with the usual empty answer, not a 500."""
    params = _sms("hello", sid=sid)
    params["MessageSid"] = sid
    _assert_twiml(post_signed(client, INBOUND, params))
    r = post_signed(client, "/v1/sms/status", {"MessageSid": sid, "MessageStatus": "delivered"})
    assert r.status_code < 500
    assert _count(db_session, InboundSms) == 0
    assert _count(db_session, ConversationMessage) == 0
