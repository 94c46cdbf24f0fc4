"""Alert fan-out and webhook deliveries, with the recording fake sender and the frozen clock."""

from __future__ import annotations

import datetime as dt
import json
from typing import Self

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from api.wiring import wire
from coordination import deliveries
from coordination.models import AgencyWebhook, Delivery, Disclosure
from coordination.webhooks_http import SendResult, SentRequest
from core.jobs import Job
from core.notices import StaffNotice
from tests.coordination.conftest import PUBLIC_IP, World
from tests.factories import auth_header
from tests.json_client import JsonClient


@pytest.fixture(autouse=True)
def receiver_clock(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver's clock is the simulated one, so timestamp tolerance is checked against it."""
    import standardwebhooks.webhooks as swh

    class _Now(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Self:
            moment = world.clock.now()
            return cls.combine(moment.date(), moment.timetz())

    monkeypatch.setattr(swh, "datetime", _Now)


def _verify(secret: str, sent: SentRequest) -> dict[str, object]:
    body = sent.body.decode()
    result: dict[str, object] = Webhook(secret).verify(body, sent.headers)
    return result


def _state(w: World, delivery_id: object) -> Delivery:
    w.session.expire_all()
    row = w.session.get(Delivery, delivery_id)
    assert row is not None
    return row


def _drain(w: World, rounds: int = 5) -> None:
    worker = w.worker()
    for _ in range(rounds):
        if worker.run_once() == 0:
            break


def test_fan_out_follows_consent_and_payload_holds_only_consented_fields(world: World) -> None:
    police_secret = world.webhook(world.police, "https://hooks.police.example/in")
    world.webhook(world.refuge, "https://refuge.example/in")
    world.consent(world.police, ["risk_level"])
    world.consent(world.refuge, ["safety_status"])
    _, sent = world.alert("risk_level", {"level": "high", "marac_referral": True})
    assert [d.agency_id for d in sent] == [world.police.id]
    _drain(world)
    assert len(world.sender.sent) == 1
    request = world.sender.sent[0]
    assert request.resolved_ip == PUBLIC_IP  # connected to the checked address
    payload = _verify(police_secret, request)
    data = payload["data"]
    assert isinstance(data, dict)
    assert set(data) == {"alert_id", "reference", "kind", "raised_at", "level", "marac_referral"}
    assert data["level"] == "high"
    assert data["marac_referral"] is True
    assert data["alert_id"] == str(sent[0].id)
    assert payload["type"] == "alert.risk_level"
    # Nothing that names the survivor.
    raw = request.body.decode()
    assert str(world.survivor.id) not in raw
    assert world.survivor.id.hex not in raw
    assert request.headers["webhook-id"] == sent[0].webhook_id
    assert _state(world, sent[0].id).state == "delivered"
    log = world.session.scalars(select(Disclosure)).all()
    assert [(x.agency_id, x.kind, x.basis, x.consent_id is not None) for x in log] == [
        (world.police.id, "risk_level", "consent", True)
    ]


def test_alert_fields_outside_the_kind_are_refused(world: World) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        world.alert("welfare_check", {"status": "safe"})
    with pytest.raises(InvalidInput):
        world.alert("safety_status", {"status": "at_home_with_him"})


def test_revoking_consent_while_alerts_are_queued_delivers_none(
    client: JsonClient, world: World
) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    consent = world.consent(world.police, ["welfare_check", "safety_status"])
    queued = []
    for kind, data in (
        ("welfare_check", {}),
        ("duress", {}),
        ("safety_status", {"status": "moved"}),
    ):
        queued += world.alert(kind, data)[1]
    assert len(queued) == 3
    r = client.post(
        f"/v1/survivor/consents/{consent.id}/revoke", headers=auth_header(world.survivor_token)
    )
    assert r.status_code == 200
    _drain(world)
    assert world.sender.sent == []
    assert {_state(world, d.id).state for d in queued} == {"cancelled"}
    assert world.session.scalar(select(func.count()).select_from(Disclosure)) == 0


def test_delivery_rechecks_consent_even_if_not_cancelled_up_front(world: World) -> None:
    # Revocation written without the cancelling update (another path, a race): the delivery
    # itself must still refuse to send.
    world.webhook(world.police, "https://hooks.police.example/in")
    consent = world.consent(world.police, ["welfare_check"])
    _, sent = world.alert("welfare_check")
    consent.state = "revoked"
    world.session.flush()
    _drain(world)
    assert world.sender.sent == []
    assert _state(world, sent[0].id).state == "cancelled"


def test_expired_consent_shares_nothing(world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"], days=2)
    # Queued before expiry, tried after: cancelled.
    _, sent = world.alert("welfare_check")
    world.clock.advance(days=2, seconds=1)
    _drain(world)
    assert world.sender.sent == []
    assert _state(world, sent[0].id).state == "cancelled"
    # Raised after expiry: nobody is chosen at all.
    _, later = world.alert("welfare_check")
    assert later == []


def test_gone_disables_the_endpoint_and_tells_admins(world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    world.sender.responses = [SendResult(410, {})]
    _, sent = world.alert("welfare_check")
    _drain(world)
    world.session.expire_all()
    hook = world.session.get(AgencyWebhook, world.police.id)
    assert hook is not None
    assert hook.disabled_at is not None
    assert hook.disabled_reason == "gone"
    notes = world.session.scalars(
        select(StaffNotice).where(StaffNotice.kind == "webhook_endpoint_disabled")
    ).all()
    assert [n.recipient_id for n in notes] == [world.admin.id]
    # No retry was scheduled, and the next alert is not sent to the disabled endpoint.
    assert len(world.sender.sent) == 1
    world.alert("welfare_check")
    world.clock.advance(days=2)
    _drain(world)
    assert len(world.sender.sent) == 1
    assert _state(world, sent[0].id).last_status == 410


def test_after_the_last_try_the_delivery_is_dead_lettered(world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"], days=300)
    world.sender.responses = [SendResult(500, {}) for _ in range(12)]
    _, sent = world.alert("welfare_check")
    worker = world.worker()
    times = []
    for _ in range(12):
        if worker.run_once():
            times.append(world.clock.now())
        world.clock.advance(hours=27)
    assert len(world.sender.sent) == 10
    row = _state(world, sent[0].id)
    assert row.state == "dead"
    assert row.attempts == 10
    assert {r.headers["webhook-id"] for r in world.sender.sent} == {row.webhook_id}
    notes = world.session.scalars(
        select(StaffNotice).where(StaffNotice.kind == "webhook_delivery_dead")
    ).all()
    assert [n.recipient_id for n in notes] == [world.admin.id]


def test_retry_schedule_and_jitter() -> None:
    for attempt, base in enumerate(deliveries.SCHEDULE, start=1):
        for _ in range(20):
            delay = deliveries.retry_delay(attempt)
            assert base <= delay <= base * 1.1
    assert deliveries.SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def test_retry_after_is_honoured_and_bounded(world: World) -> None:
    now = world.clock.now()
    assert deliveries.parse_retry_after("120", now) == 120
    assert deliveries.parse_retry_after("999999", now) == 86400
    http_date = "Mon, 05 Jan 2026 13:00:00 GMT"  # an hour after the frozen clock's start
    assert deliveries.parse_retry_after(http_date, now) == 3600
    assert deliveries.parse_retry_after("soon", now) is None
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    world.sender.responses = [SendResult(503, {"retry-after": "3600"})]
    _, sent = world.alert("welfare_check")
    world.session.commit()
    world.worker().run_once()
    world.session.expire_all()
    job = world.session.get(Job, sent[0].job_id)
    assert job is not None
    assert job.state == "pending"
    assert job.run_at - world.clock.now() >= dt.timedelta(seconds=3600)
    world.clock.advance(seconds=1800)  # the schedule alone would have retried by now
    world.worker().run_once()
    assert len(world.sender.sent) == 1
    world.clock.advance(seconds=1801)
    world.worker().run_once()
    assert len(world.sender.sent) == 2
    assert _state(world, sent[0].id).state == "delivered"


def test_rebinding_to_a_private_address_is_refused_at_delivery(world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    world.resolver.names["hooks.police.example"] = ["10.0.0.7"]
    _, sent = world.alert("welfare_check")
    world.session.commit()
    world.worker().run_once()
    assert world.sender.sent == []
    world.session.expire_all()
    job = world.session.get(Job, sent[0].job_id)
    assert job is not None
    assert job.state == "pending"
    assert job.attempts == 1


def test_rotation_signs_with_both_secrets(client: JsonClient, world: World) -> None:
    old = world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    r = client.post(
        f"/v1/admin/agencies/{world.police.id}/webhook/secrets/rotate",
        headers=auth_header(world.admin_token),
    )
    new = r.json["secret"]
    world.alert("welfare_check")
    _drain(world)
    request = world.sender.sent[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    _verify(old, request)
    _verify(new, request)
    # After the grace period only the new secret signs.
    world.clock.advance(hours=25)
    world.consent(world.police, ["welfare_check"])
    world.alert("welfare_check")
    _drain(world)
    later = world.sender.sent[-1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    _verify(new, later)
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        _verify(old, later)


def test_admin_redelivers_with_the_same_webhook_id(client: JsonClient, world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    _, sent = world.alert("welfare_check")
    _drain(world)
    h = auth_header(world.admin_token)
    listed = client.get("/v1/admin/deliveries?state=delivered", headers=h).json["items"]
    assert [x["id"] for x in listed] == [str(sent[0].id)]
    assert "payload" not in listed[0]
    r = client.post(f"/v1/admin/deliveries/{sent[0].id}/redeliver", headers=h)
    assert r.status_code == 200
    assert r.json["state"] == "pending"
    _drain(world)
    ids = [x.headers["webhook-id"] for x in world.sender.sent]
    assert ids == [sent[0].webhook_id, sent[0].webhook_id]
    # Advocates cannot use the admin endpoint.
    denied = client.post(
        f"/v1/admin/deliveries/{sent[0].id}/redeliver", headers=auth_header(world.advocate_token)
    )
    assert denied.status_code == 403


def test_advocate_raises_an_alert_over_http(client: JsonClient, world: World) -> None:
    world.consent(world.police, ["safety_status"])
    r = client.post(
        f"/v1/staff/survivors/{world.survivor.id}/alerts",
        json={"kind": "safety_status", "status": "in_refuge"},
        headers=auth_header(world.advocate_token),
    )
    assert r.status_code == 201, r.json
    assert r.json["agencies"] == 1
    bad = client.post(
        f"/v1/staff/survivors/{world.survivor.id}/alerts",
        json={"kind": "duress"},
        headers=auth_header(world.advocate_token),
    )
    assert bad.status_code == 422


def test_duress_listener_raises_one_duress_alert(world: World) -> None:
    from coordination.wiring import DURESS_LISTENER
    from core.jobs import JobContext, enqueue

    world.consent(world.police, ["welfare_check"])
    job = enqueue(world.session, world.clock, "survivor.duress_alert", {"survivor_id": "x"})
    ctx = JobContext(world.session, world.clock, job)
    duress_listener = wire(world.runtime).hooks.duress.get(DURESS_LISTENER)
    assert duress_listener is not None
    duress_listener(ctx, world.survivor.id)
    duress_listener(ctx, world.survivor.id)  # a retry for the same duress adds nothing
    rows = world.session.scalars(select(Delivery)).all()
    assert len(rows) == 1
    body = json.loads(
        world.deps.vault.open_text(
            world.session,
            __import__("core.crypto", fromlist=["Binding"]).Binding(
                "coordination_deliveries", "payload_enc", rows[0].id, world.survivor.id
            ),
            rows[0].payload_enc,
        )
    )
    assert body["type"] == "alert.duress"


def test_welfare_port_for_check_ins(world: World) -> None:
    import uuid

    port = wire(world.runtime).checkins.welfare_alerts
    assert port is not None
    assert port(world.session, world.clock, world.survivor.id, uuid.uuid4(), None) == "no_consent"
    world.consent(world.police, ["welfare_check"])
    world.consent(world.refuge, ["welfare_check"])
    escalation = uuid.uuid4()
    assert port(world.session, world.clock, world.survivor.id, escalation, world.refuge.id) == (
        "alerted"
    )
    port(world.session, world.clock, world.survivor.id, escalation, world.refuge.id)
    rows = world.session.scalars(select(Delivery)).all()
    assert [r.agency_id for r in rows] == [world.refuge.id]


def test_saving_the_endpoint_again_reenables_it_and_sends_what_waited(
    client: JsonClient, world: World
) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    world.sender.responses = [SendResult(410, {})]
    _, first = world.alert("welfare_check")
    _, second = world.alert("welfare_check")
    _drain(world)
    assert len(world.sender.sent) == 1  # the 410; the second found the endpoint disabled
    r = client.put(
        f"/v1/admin/agencies/{world.police.id}/webhook",
        json={"url": "https://hooks.police.example/v2"},
        headers=auth_header(world.admin_token),
    )
    assert r.status_code == 200
    assert r.json["enabled"] is True
    _drain(world)
    sent_ids = [x.headers["webhook-id"] for x in world.sender.sent]
    assert sorted(sent_ids[1:]) == sorted([first[0].webhook_id, second[0].webhook_id])
    assert {_state(world, d.id).state for d in first + second} == {"delivered"}


def test_disabled_agency_gets_nothing_more(world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    _, sent = world.alert("welfare_check")
    world.police.disabled_at = world.clock.now()
    world.session.flush()
    _drain(world)
    assert world.sender.sent == []
    row = _state(world, sent[0].id)
    assert row.state == "cancelled"
    assert row.cancelled_reason == "agency_disabled"


def test_redelivery_adds_no_second_disclosure(client: JsonClient, world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    _, sent = world.alert("welfare_check")
    _drain(world)
    client.post(
        f"/v1/admin/deliveries/{sent[0].id}/redeliver", headers=auth_header(world.admin_token)
    )
    _drain(world)
    assert len(world.sender.sent) == 2
    assert world.session.scalar(select(func.count()).select_from(Disclosure)) == 1


def test_redelivering_a_cancelled_delivery_is_refused(client: JsonClient, world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    consent = world.consent(world.police, ["welfare_check"])
    _, sent = world.alert("welfare_check")
    client.post(
        f"/v1/survivor/consents/{consent.id}/revoke", headers=auth_header(world.survivor_token)
    )
    r = client.post(
        f"/v1/admin/deliveries/{sent[0].id}/redeliver", headers=auth_header(world.admin_token)
    )
    assert r.status_code == 409
    _drain(world)
    assert world.sender.sent == []


def test_a_duress_login_reaches_consented_agencies_through_the_duress_job(
    world: World,
) -> None:
    import uuid

    from auth.survivors import duress
    from core.audit import AuditEvent
    from core.worker import Worker

    secret = world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    world.consent(world.refuge, ["safety_status"])  # does not cover a duress
    duress.raise_duress_alert(world.session, world.clock, world.survivor.id, uuid.uuid4())
    world.session.commit()
    registry = world.worker().registry
    duress.register_jobs(registry, wire(world.runtime).hooks.duress)
    worker = Worker(world.runtime.session_factory, registry, world.clock)
    for _ in range(3):
        worker.run_once()
    assert len(world.sender.sent) == 1
    payload = _verify(secret, world.sender.sent[0])
    assert payload["type"] == "alert.duress"
    # No audit line about the alert names the survivor (their log could be read under duress).
    world.session.expire_all()
    created = world.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "alert.created")
    ).all()
    assert len(created) == 1
    assert created[0].survivor_id is None
