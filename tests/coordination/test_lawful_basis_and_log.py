"""Sharing without consent (two people), the disclosure log, and consent-expiry warnings."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from coordination.models import Consent, SurvivorNotice
from coordination.survivor_notices import warn_expiring
from core.notices import StaffNotice
from tests.coordination.conftest import World
from tests.factories import auth_header, make_device, make_staff
from tests.json_client import JsonClient


def _share(client: JsonClient, w: World, token: str, **over: Any) -> Any:
    body: dict[str, Any] = {
        "agency_id": str(w.police.id),
        "kinds": ["welfare_check"],
        "basis": "vital_interests",
        "reasoning": "Threat to life reported at MARAC; survivor unreachable",
        "duration_hours": 48,
        "tell_survivor": True,
    }
    body.update(over)
    return client.post(
        f"/v1/staff/survivors/{w.survivor.id}/lawful-shares", json=body, headers=auth_header(token)
    )


def _supervisor(w: World) -> str:
    from auth.access.models import CaseloadEntry
    from core.ids import new_id

    sup, token = make_staff(w.session, w.runtime, role="supervisor")
    w.session.add(
        CaseloadEntry(
            id=new_id(),
            survivor_id=w.survivor.id,
            staff_id=sup.id,
            assigned_by=sup.id,
            assigned_at=w.clock.now(),
        )
    )
    w.session.flush()
    return token


def test_share_without_consent_needs_a_different_supervisor(
    client: JsonClient, world: World
) -> None:
    sup_token = _supervisor(world)
    # Requested by a supervisor: they cannot approve their own request.
    own = _share(client, world, sup_token)
    assert own.status_code == 201, own.json
    base = f"/v1/staff/survivors/{world.survivor.id}/lawful-shares"
    assert (
        client.post(f"{base}/{own.json['id']}/approve", headers=auth_header(sup_token)).status_code
        == 403
    )
    r = _share(client, world, world.advocate_token)
    assert r.status_code == 201
    assert r.json["state"] == "pending"
    share_id = r.json["id"]
    # Pending: nothing goes out yet.
    assert world.alert("welfare_check")[1] == []
    # An advocate cannot approve; the supervisor can.
    denied = client.post(f"{base}/{share_id}/approve", headers=auth_header(world.advocate_token))
    assert denied.status_code == 403
    ok = client.post(f"{base}/{share_id}/approve", headers=auth_header(sup_token))
    assert ok.status_code == 200
    assert ok.json["state"] == "approved"
    world.session.expire_all()
    _, sent = world.alert("welfare_check")
    assert [(d.agency_id, d.consent_id, str(d.lawful_share_id)) for d in sent] == [
        (world.police.id, None, share_id)
    ]
    # The survivor is told, and the log names the lawful basis.
    h = auth_header(world.survivor_token)
    notices = client.get("/v1/survivor/sharing-notices", headers=h).json["items"]
    assert [n["kind"] for n in notices] == ["sharing_without_consent"]
    log = client.get("/v1/survivor/disclosures", headers=h).json["items"]
    assert [(x["what"], x["basis"], x["lawful_basis"]) for x in log] == [
        ("lawful_share", "vital_interests", "vital_interests")
    ]
    # Limited in time: after it ends, nothing more is shared.
    world.clock.advance(hours=49)
    assert world.alert("welfare_check")[1] == []


def test_not_telling_the_survivor_needs_a_sealed_reason(client: JsonClient, world: World) -> None:
    sup_token = _supervisor(world)
    missing = _share(client, world, world.advocate_token, tell_survivor=False)
    assert missing.status_code == 422
    r = _share(
        client,
        world,
        world.advocate_token,
        tell_survivor=False,
        not_telling_reason="The abuser reads her phone",
    )
    assert r.status_code == 201
    base = f"/v1/staff/survivors/{world.survivor.id}/lawful-shares"
    client.post(f"{base}/{r.json['id']}/approve", headers=auth_header(sup_token))
    notices = client.get(
        "/v1/survivor/sharing-notices", headers=auth_header(world.survivor_token)
    ).json["items"]
    assert notices == []
    from coordination.models import LawfulShare

    row = world.session.get(LawfulShare, uuid.UUID(r.json["id"]))
    assert row is not None
    assert b"abuser" not in (row.not_telling_reason_enc or b"")
    assert b"MARAC" not in row.reasoning_enc


def test_disclosure_log_for_survivor_and_caseload(client: JsonClient, world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["welfare_check"])
    world.alert("duress")
    worker = world.worker()
    worker.run_once()
    h = auth_header(world.survivor_token)
    log = client.get("/v1/survivor/disclosures", headers=h).json["items"]
    assert len(log) == 1
    entry = log[0]
    assert entry["agency_name"] == "Police"
    assert entry["agency_kind"] == "police"
    assert entry["basis"] == "consent"
    assert entry["purpose"] == "Safety"
    # A duress is listed as the welfare check it was consented as: no trace of the duress PIN.
    assert entry["kind"] == "welfare_check"
    assert "duress" not in str(log)
    staff = client.get(
        f"/v1/staff/survivors/{world.survivor.id}/disclosures",
        headers=auth_header(world.advocate_token),
    )
    assert staff.status_code == 200
    assert staff.json["items"] == log
    _other, other_token = make_staff(world.session, world.runtime, role="advocate")
    denied = client.get(
        f"/v1/staff/survivors/{world.survivor.id}/disclosures", headers=auth_header(other_token)
    )
    assert denied.status_code == 404
    _, decoy = make_device(world.session, world.runtime, world.survivor.id, decoy=True)
    assert client.get("/v1/survivor/disclosures", headers=auth_header(decoy)).json == {"items": []}


def test_expiry_warning_a_week_before_once(world: World) -> None:
    consent = world.consent(world.police, ["welfare_check"], days=10)
    assert warn_expiring(world.session, world.clock) == 0
    world.clock.advance(days=3, hours=1)
    assert warn_expiring(world.session, world.clock) == 1
    assert warn_expiring(world.session, world.clock) == 0  # once
    survivor_notes = world.session.scalars(select(SurvivorNotice)).all()
    assert [(n.kind, n.details["consent_id"]) for n in survivor_notes] == [
        ("consent_expiring", str(consent.id))
    ]
    staff_notes = world.session.scalars(
        select(StaffNotice).where(StaffNotice.kind == "consent_expiring")
    ).all()
    assert [n.recipient_id for n in staff_notes] == [world.advocate.id]


def test_expiry_job_runs_periodically_through_the_worker(world: World) -> None:
    world.consent(world.police, ["welfare_check"], days=5)
    world.worker().run_once()
    world.session.expire_all()
    row = world.session.scalars(select(Consent)).one()
    assert row.expiry_warned_at == world.clock.now()
    world.clock.advance(hours=2)
    world.worker().run_once()
    assert len(world.session.scalars(select(SurvivorNotice)).all()) == 1
    assert row.expires_at - world.clock.now() < dt.timedelta(days=7)


def test_withdrawing_a_share_cancels_what_is_queued(client: JsonClient, world: World) -> None:
    from coordination.models import Delivery

    sup_token = _supervisor(world)
    world.webhook(world.police, "https://hooks.police.example/in")
    share_id = _share(client, world, world.advocate_token).json["id"]
    base = f"/v1/staff/survivors/{world.survivor.id}/lawful-shares"
    client.post(f"{base}/{share_id}/approve", headers=auth_header(sup_token))
    world.session.expire_all()
    _, sent = world.alert("welfare_check")
    assert len(sent) == 1
    r = client.post(f"{base}/{share_id}/withdraw", headers=auth_header(world.advocate_token))
    assert r.status_code == 200
    assert r.json["state"] == "withdrawn"
    world.worker().run_once()
    assert world.sender.sent == []
    world.session.expire_all()
    row = world.session.get(Delivery, sent[0].id)
    assert row is not None
    assert row.state == "cancelled"
