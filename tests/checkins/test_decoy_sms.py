"""A decoy account's SMS check-ins, over the real outbox, the Twilio gateway (a fake HTTP
client) and the signed inbound and status webhooks: texted to the number set in the decoy and
answered by its own reply codes exactly as a real account's are, while nothing reaches a
person and nothing of a real survivor's (her number, her texts) is ever taken by a decoy.

Each test plays a real account R (number ``REAL``) beside a decoy D (number ``DECOY``) where it
compares them; the decoy belongs to the owner O, whose advocates are the ones a leak would
reach.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher, phone_index
from core.db import make_engine
from core.notices import StaffNotice
from core.runtime import Runtime, build_runtime
from core.settings import Settings
from messaging.checkins import states
from messaging.checkins.models import CheckinOccurrence, Escalation
from messaging.models import ConversationMessage, InboundSms, OutboundSms, SmsPhoneState
from messaging.sms.sending import queue_survivor_sms
from tests.checkins.sms_world import twilio_app
from tests.conftest import make_settings
from tests.decoy_exits import Exits, assert_only_the_alarm_left, decoy_ids, run_all_jobs
from tests.factories import auth_header, make_device, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import (
    AUTH_TOKEN,
    PUBLIC_URL,
    FakeTwilioHttp,
    post_signed,
    twilio_error,
)

REAL, DECOY, OWNERS = "+447911123461", "+447911123462", "+447911123463"
_sids = (f"SM{n:032x}" for n in itertools.count(0xD000))


@pytest.fixture
def settings(tmp_path: Path, database_url: str, keyring: KeyRing) -> Settings:
    # The tests wait out grace periods and second windows on the frozen clock.
    return make_settings(tmp_path, database_url, keyring, survivor_access_minutes=7 * 24 * 60)


@dataclass
class Phones:
    client: JsonClient
    runtime: Runtime
    clock: FrozenClock
    session: Session
    http: FakeTwilioHttp
    owner: Survivor
    owner_h: dict[str, str]
    owner_advocate: StaffMember
    decoy_h: dict[str, str]
    real: Survivor
    real_h: dict[str, str]
    exits: Exits

    @property
    def decoy_id(self) -> uuid.UUID:
        return decoy_ids(self.session, self.owner.id)[0]

    def ok(self, r: Any, status: int = 200) -> Any:
        assert r.status_code == status, r.get_data(as_text=True)
        return r.get_json(silent=True)

    def set_up(
        self, h: dict[str, str], number: str, safe: str = "1", help_: str = "tulips"
    ) -> None:
        self.ok(self.client.put("/v1/survivor/phone", json={"phone": number}, headers=h), 204)
        codes = {"safe_reply": safe, "help_reply": help_}
        self.ok(self.client.put("/v1/survivor/check-ins/settings", json=codes, headers=h))

    def owner_sets_her_number(self, safe: str = "1", help_: str = "tulips") -> None:
        """The owner, in her real session, gives the phone's number (her advocate is told, as
        ever); what is watched from then on is what the decoy does."""
        self.set_up(self.owner_h, OWNERS, safe, help_)
        self.exits = Exits.take(self.session, self.runtime)

    def check_in(self, h: dict[str, str]) -> None:
        due = (self.clock.now() + dt.timedelta(minutes=10)).isoformat()
        body = {"kind": "one_off", "due_at": due, "template": "pharmacy"}
        self.ok(self.client.post("/v1/survivor/check-ins", json=body, headers=h), 201)

    def travel(self, **delta: float) -> None:
        self.clock.advance(**delta)
        run_all_jobs(self.runtime)

    def text(self, number: str, body: str, sid: str | None = None) -> None:
        params = {"From": number, "To": "+15005550006", "Body": body}
        r = post_signed(
            self.client, "/v1/sms/inbound", {**params, "MessageSid": sid or next(_sids)}
        )
        assert r.status_code == 200

    def sent_to(self, number: str) -> list[str]:
        return [
            str(r.data["Body"])
            for r in self.http.requests
            if r.url.endswith("/Messages.json") and r.data.get("To") == number
        ]

    def states(self, survivor_id: uuid.UUID) -> list[str]:
        self.session.expire_all()
        occurrences = self.session.scalars(
            select(CheckinOccurrence)
            .where(CheckinOccurrence.survivor_id == survivor_id)
            .order_by(CheckinOccurrence.send_at)
        )
        return [o.state for o in occurrences]

    def shown(self, h: dict[str, str]) -> list[Any]:
        """What the app shows of the check-ins: pending ones, and each schedule's channel."""
        pending = self.ok(self.client.get("/v1/survivor/check-ins/pending", headers=h))
        schedules = self.ok(self.client.get("/v1/survivor/check-ins", headers=h))
        return [[o["state"] for o in pending], [s["channel"] for s in schedules]]

    def messages(self, survivor_id: uuid.UUID) -> int:
        self.session.expire_all()
        count = select(func.count()).select_from(ConversationMessage)
        mine = count.where(ConversationMessage.survivor_id == survivor_id)
        return self.session.execute(mine).scalar_one()

    def notices_to(self, staff: StaffMember) -> list[str]:
        self.session.expire_all()
        kinds = select(StaffNotice.kind).where(StaffNotice.recipient_id == staff.id)
        return list(self.session.scalars(kinds.where(StaffNotice.id.not_in(self.exits.notices))))

    def nothing_left_but_its_texts(self) -> None:
        self.travel(days=1)  # every grace period and second window has run out
        assert_only_the_alarm_left(
            self.session,
            self.runtime,
            self.exits,
            self.owner.id,
            decoy_numbers=frozenset({DECOY, OWNERS}),
        )


@pytest.fixture
def w(runtime: Runtime, db_session: Session, clock: FrozenClock) -> Phones:
    clock.set(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    client, http = twilio_app(runtime)
    owner_advocate, owner_advocate_token = make_staff(db_session, runtime)
    real_advocate, _ = make_staff(db_session, runtime)
    owner, owner_token = make_survivor(db_session, runtime, advocate=owner_advocate)
    real, real_token = make_survivor(db_session, runtime, advocate=real_advocate)
    _device, decoy_token = make_device(db_session, runtime, owner.id, decoy=True)
    db_session.commit()
    # On duty with a phone: an escalation about the owner (or a leak from her decoy) texts it.
    r = client.put(
        "/v1/staff/me/duty",
        json={"on_duty": True, "phone": "+447911123400"},
        headers=auth_header(owner_advocate_token),
    )
    assert r.status_code == 200
    exits = Exits.take(db_session, runtime)
    return Phones(
        client,
        runtime,
        clock,
        db_session,
        http,
        owner,
        auth_header(owner_token),
        owner_advocate,
        auth_header(decoy_token),
        real,
        auth_header(real_token),
        exits,
    )


def test_a_decoys_check_in_is_texted_and_answered_by_its_code_as_a_real_ones(w: Phones) -> None:
    for h, number in ((w.real_h, REAL), (w.decoy_h, DECOY)):
        w.set_up(h, number)
        w.check_in(h)
    w.travel(minutes=11)
    [text] = w.sent_to(REAL)
    assert w.sent_to(DECOY) == [text]
    assert w.shown(w.decoy_h) == w.shown(w.real_h) == [["sent"], ["sms"]]
    w.text(REAL, "1")
    w.text(DECOY, " 1. ")  # a reply code matches as loosely as a real account's does
    assert w.states(w.real.id) == w.states(w.decoy_id) == [states.SAFE]
    assert w.shown(w.decoy_h) == w.shown(w.real_h) == [[], ["sms"]]
    assert w.messages(w.decoy_id) == w.messages(w.real.id) == 0  # a reply is not a message
    w.nothing_left_but_its_texts()
    assert w.notices_to(w.owner_advocate) == []


def test_a_decoys_help_code_reads_escalated_and_reaches_nobody(w: Phones) -> None:
    w.set_up(w.decoy_h, DECOY)
    w.check_in(w.decoy_h)
    w.travel(minutes=11)
    w.text(DECOY, "Tulips")
    assert w.states(w.decoy_id) == [states.ESCALATED]  # as a real account's shows
    assert w.shown(w.decoy_h) == [[], ["sms"]]
    assert w.session.scalars(select(Escalation)).all() == []
    w.nothing_left_but_its_texts()  # no notice, no staff text, no alert, no escalation
    assert w.sent_to("+447911123400") == []


def test_a_decoy_given_the_owners_number_never_makes_it_shared(w: Phones) -> None:
    """Whoever holds the phone puts the phone's own number, which is hers, into the decoy. Her
    number must stay hers alone: her texts reach her advocate, her codes her check-ins; the
    decoy gets its own codes, and only when they answer something of its own."""
    w.owner_sets_her_number()
    w.set_up(w.decoy_h, OWNERS, safe="3", help_="roses")
    w.text(OWNERS, "can we talk tomorrow")
    # A decoy's safe code when nothing of the decoy's waits: hers, as any text from her number.
    w.text(OWNERS, "3")
    assert w.messages(w.owner.id) == 2
    for h in (w.owner_h, w.decoy_h):
        w.check_in(h)
    w.travel(minutes=11)
    assert len(w.sent_to(OWNERS)) == 2  # one text for each account, as two real ones would
    w.text(OWNERS, "1")
    assert (w.states(w.owner.id), w.states(w.decoy_id)) == ([states.SAFE], [states.SENT])
    w.text(OWNERS, "3")
    assert (w.states(w.owner.id), w.states(w.decoy_id)) == ([states.SAFE], [states.SAFE])
    assert w.messages(w.owner.id) == 2
    assert w.messages(w.decoy_id) == 0
    # Her advocate was told nothing: no text "from a shared number", nothing of the decoy.
    assert w.notices_to(w.owner_advocate) == []
    assert w.session.scalars(select(Escalation)).all() == []


def test_real_holders_win_every_tie_with_a_decoy(w: Phones) -> None:
    w.owner_sets_her_number()
    w.set_up(w.decoy_h, OWNERS, safe="1", help_="tulips")  # the same codes as hers
    for h in (w.owner_h, w.decoy_h):
        w.check_in(h)
    w.travel(minutes=11)
    w.text(OWNERS, "1")
    w.text(OWNERS, "1")  # nothing of hers waits now: a message to her advocate, still hers
    w.text(OWNERS, "tulips")
    assert w.states(w.decoy_id) == [states.SENT]  # the decoy got none of them
    assert w.states(w.owner.id) == [states.SAFE]
    assert w.messages(w.owner.id) == 1
    assert "escalation.help_reply" in w.notices_to(w.owner_advocate)


def test_messages_and_keywords_from_a_decoys_number_never_reach_it(w: Phones) -> None:
    w.set_up(w.decoy_h, DECOY)
    w.check_in(w.decoy_h)
    w.travel(minutes=11)
    for body in ("hello", "HELP", "info", "", "1 please"):
        w.text(DECOY, body)
    assert w.states(w.decoy_id) == [states.SENT]
    assert w.messages(w.decoy_id) == 0
    # A number only a decoy holds leaves no trace of what it sent.
    assert w.session.scalar(select(func.count()).select_from(InboundSms)) == 0
    w.nothing_left_but_its_texts()


def test_stop_from_a_decoys_number_stops_its_check_ins_as_a_real_accounts(w: Phones) -> None:
    """STOP acts on the number: a real account's next check-in is then not texted and is
    missed at once; so is the decoy's, though nobody is told of the decoy's opt-out."""
    for h, number in ((w.real_h, REAL), (w.decoy_h, DECOY)):
        w.set_up(h, number)
        w.text(number, "STOP")
        w.check_in(h)
    w.travel(minutes=11)
    assert w.sent_to(REAL) == w.sent_to(DECOY) == []
    assert w.states(w.real.id) == w.states(w.decoy_id) == [states.ESCALATED]
    assert w.shown(w.decoy_h) == w.shown(w.real_h)
    stopped = w.session.scalar(
        select(SmsPhoneState.opted_out).where(
            SmsPhoneState.phone_index == phone_index(w.runtime.keyring, DECOY)
        )
    )
    assert stopped is True
    # START lets the texts go again, for both.
    for h, number in ((w.real_h, REAL), (w.decoy_h, DECOY)):
        w.text(number, "START")
        w.check_in(h)
    w.travel(minutes=11)
    assert len(w.sent_to(REAL)) == len(w.sent_to(DECOY)) == 1
    w.nothing_left_but_its_texts()


def test_stop_from_the_owners_number_stops_her_decoys_texts_too(w: Phones) -> None:
    w.owner_sets_her_number()
    w.set_up(w.decoy_h, OWNERS, safe="3", help_="roses")
    w.text(OWNERS, "STOP")
    assert w.notices_to(w.owner_advocate) == ["sms_opt_out"]  # her number: as ever
    w.exits = Exits.take(w.session, w.runtime)
    w.check_in(w.decoy_h)
    w.travel(minutes=11)
    assert w.sent_to(OWNERS) == []
    assert w.states(w.decoy_id) == [states.ESCALATED]
    w.nothing_left_but_its_texts()


@pytest.mark.parametrize("failure", ["undelivered", "failed", "refused"])
def test_a_decoys_text_that_fails_ends_its_check_in_as_a_real_ones(w: Phones, failure: str) -> None:
    for h, number in ((w.real_h, REAL), (w.decoy_h, DECOY)):
        w.set_up(h, number)
        w.check_in(h)
    if failure == "refused":
        w.http.script.extend([twilio_error(400, 21211)] * 2)  # not a mobile number
    w.travel(minutes=11)
    if failure != "refused":
        for row in w.session.scalars(select(OutboundSms)).all():
            assert row.provider_sid is not None  # every one was sent
            r = post_signed(
                w.client,
                "/v1/sms/status",
                {"MessageSid": row.provider_sid, "MessageStatus": failure},
            )
            assert r.status_code in (200, 204)
    assert w.states(w.real.id) == w.states(w.decoy_id) == [states.ESCALATED]
    assert w.shown(w.decoy_h) == w.shown(w.real_h) == [[], ["sms"]]
    [esc] = w.session.scalars(select(Escalation)).all()
    assert (esc.survivor_id, esc.source) == (w.real.id, "send_failed")
    w.nothing_left_but_its_texts()


def test_a_decoy_number_set_before_decoys_had_an_index_is_found_once_texted(w: Phones) -> None:
    """Numbers set in decoys before revision 0230 have no index (the key is outside the
    database): the first check-in text gives it one, so the reply to it still answers."""
    w.set_up(w.decoy_h, DECOY)
    decoy = w.session.get(Survivor, w.decoy_id, populate_existing=True)
    assert decoy is not None
    decoy.decoy_phone_index = None
    w.session.commit()
    w.check_in(w.decoy_h)
    w.travel(minutes=11)
    assert len(w.sent_to(DECOY)) == 1
    w.text(DECOY, "1")
    assert w.states(w.decoy_id) == [states.SAFE]


def test_a_decoys_reply_answered_once_however_often_twilio_delivers_it(w: Phones) -> None:
    w.set_up(w.decoy_h, DECOY)
    w.check_in(w.decoy_h)
    w.travel(minutes=11)
    sid = next(_sids)
    for _ in range(3):
        w.text(DECOY, "1", sid=sid)
    answered = select(func.count()).select_from(AuditEvent)
    answered = answered.where(
        AuditEvent.survivor_id == w.decoy_id, AuditEvent.action == "checkin.safe"
    )
    assert w.session.scalar(answered) == 1
    [row] = w.session.scalars(select(InboundSms)).all()
    assert (row.survivor_id, row.outcome) == (w.decoy_id, "routed")


@pytest.mark.parametrize("same_sid", [True, False], ids=["a retry", "five replies"])
def test_a_decoys_reply_arriving_five_times_at_once_answers_once(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher, same_sid: bool
) -> None:
    """On real connections, in threads: Twilio's overlapping retries of one reply (or the
    person sending it five times) answer the decoy's check-in once, as a real one's."""
    engine = make_engine(committed_db)
    settings = make_settings(
        tmp_path,
        committed_db,
        keyring,
        twilio_auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC_URL,
        survivor_access_minutes=24 * 60,
    )
    clock = FrozenClock(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    runtime = build_runtime(
        settings, clock=clock, engine=engine, keyring=keyring, hasher=fast_hasher
    )
    try:
        app = create_app(settings, runtime=runtime)
        with runtime.session_factory() as s:
            owner, _ = make_survivor(s, runtime)
            _device, token = make_device(s, runtime, owner.id, decoy=True)
            s.commit()
        client, h = JsonClient(app), auth_header(token)
        due = (clock.now() + dt.timedelta(minutes=10)).isoformat()
        for method, path, body, status in (
            ("PUT", "phone", {"phone": DECOY}, 204),
            ("PUT", "check-ins/settings", {"safe_reply": "1", "help_reply": "tulips"}, 200),
            ("POST", "check-ins", {"kind": "one_off", "due_at": due}, 201),
        ):
            r = client.open(f"/v1/survivor/{path}", method=method, json=body, headers=h)
            assert r.status_code == status, r.get_data(as_text=True)
        clock.advance(minutes=11)
        run_all_jobs(runtime)
        sids = [next(_sids)] * 5 if same_sid else [next(_sids) for _ in range(5)]
        barrier = threading.Barrier(5)
        answers: list[int] = []

        def post(sid: str) -> None:
            barrier.wait(10)
            params = {"From": DECOY, "Body": "1", "MessageSid": sid}
            answers.append(post_signed(JsonClient(app), "/v1/sms/inbound", params).status_code)

        threads = [threading.Thread(target=post, args=(sid,)) for sid in sids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers == [200] * 5
        with runtime.session_factory() as s:
            [decoy_id] = decoy_ids(s, owner.id)
            occ = s.scalars(select(CheckinOccurrence)).one()
            assert (occ.survivor_id, occ.state) == (decoy_id, states.SAFE)
            answered = select(func.count()).select_from(AuditEvent)
            answered = answered.where(AuditEvent.action == "checkin.safe")
            assert s.scalar(answered) == 1
            # Kept: the reply that answered, and any that came in while it was answering (they
            # found the check-in waiting, then answered); one that came after answered nothing
            # of the decoy's, and a number only a decoy holds leaves no other trace.
            kept = [(row.survivor_id, row.outcome) for row in s.scalars(select(InboundSms))]
            assert set(kept) == {(decoy_id, "routed")}
            assert (len(kept) == 1) if same_sid else (len(kept) <= 5)
            assert s.scalar(select(func.count()).select_from(ConversationMessage)) == 0
    finally:
        engine.dispose()


def test_a_decoy_is_texted_its_own_check_ins_and_nothing_else(w: Phones) -> None:
    """Even a reply an advocate could never send (a decoy is nobody's case) would not go."""
    w.set_up(w.decoy_h, DECOY)
    for purpose in ("conversation", "advocate_alert"):
        row = queue_survivor_sms(
            w.session, w.clock, w.runtime.vault, w.decoy_id, body="On my way", purpose=purpose
        )
        assert row is None
    row = queue_survivor_sms(
        w.session, w.clock, w.runtime.vault, w.decoy_id, body="Reminder", purpose="check_in"
    )
    assert row is not None
    assert row.to_index == phone_index(w.runtime.keyring, DECOY)  # what STOP is mirrored by
