"""A world for check-ins over the real SMS path: the outbox, the Twilio gateway over a fake HTTP
client, and the real inbound and status webhooks with valid signatures."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.staff.models import StaffMember
from core.clock import FrozenClock
from core.runtime import Runtime
from messaging.checkins.models import CheckinOccurrence, Escalation
from messaging.sms.gateway import TwilioSmsGateway
from tests.conftest import shared_app
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SERVICE_SID,
    FakeTwilioHttp,
    make_job_runner,
    post_signed,
)

PHONE = "+447911123456"


@dataclass
class SmsWorld:
    client: JsonClient
    runtime: Runtime
    clock: FrozenClock
    http: FakeTwilioHttp
    session: Session
    advocate: StaffMember
    advocate_token: str
    survivor_id: uuid.UUID
    survivor_token: str

    def run_jobs(self) -> int:
        return make_job_runner(self.runtime)()

    def occurrence(self) -> CheckinOccurrence:
        self.session.expire_all()
        return self.session.scalars(select(CheckinOccurrence)).one()

    def escalations(self) -> list[Escalation]:
        self.session.expire_all()
        return list(self.session.scalars(select(Escalation)))


def twilio_app(runtime: Runtime) -> tuple[JsonClient, FakeTwilioHttp]:
    """The app on the Twilio gateway (over a fake HTTP client), taking signed webhooks."""
    runtime.settings = runtime.settings.replace(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_messaging_service_sid=SERVICE_SID,
        public_base_url=PUBLIC_URL,
    )
    http = FakeTwilioHttp()
    wire(
        runtime,
        sms_gateway=TwilioSmsGateway(
            ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, http_client=http
        ),
    )
    return JsonClient(shared_app(runtime)), http


def build_sms_world(runtime: Runtime, db_session: Session, clock: FrozenClock) -> SmsWorld:
    """A survivor with a phone, reply codes ``1`` (safe) and ``tulips`` (help), and one SMS
    check-in due in ten minutes; her advocate; the app on the Twilio gateway."""
    clock.set(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    client, http = twilio_app(runtime)
    advocate, advocate_token = make_staff(db_session, runtime)
    survivor, survivor_token = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()
    h = auth_header(survivor_token)
    assert client.put("/v1/survivor/phone", json={"phone": PHONE}, headers=h).status_code in (
        200,
        204,
    )
    r = client.put(
        "/v1/survivor/check-ins/settings",
        json={"safe_reply": "1", "help_reply": "tulips"},
        headers=h,
    )
    assert r.status_code == 200
    due = (clock.now() + dt.timedelta(minutes=10)).isoformat()
    r = client.post(
        "/v1/survivor/check-ins",
        json={"kind": "one_off", "due_at": due, "template": "pharmacy"},
        headers=h,
    )
    assert r.status_code == 201
    return SmsWorld(
        client,
        runtime,
        clock,
        http,
        db_session,
        advocate,
        advocate_token,
        survivor.id,
        survivor_token,
    )


def inbound(w: SmsWorld, body: str, sid: str) -> None:
    r = post_signed(
        w.client,
        "/v1/sms/inbound",
        {"From": PHONE, "To": "+15005550006", "Body": body, "MessageSid": sid},
    )
    assert r.status_code == 200
    assert r.mimetype == "text/xml"


def send_due(w: SmsWorld) -> None:
    w.clock.advance(minutes=11)
    w.run_jobs()
