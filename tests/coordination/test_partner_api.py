"""The partner API: pulling alerts after a cursor, acknowledging, and agency isolation."""

from __future__ import annotations

from sqlalchemy import select

from coordination.models import Disclosure
from coordination.references import reference_for
from tests.coordination.conftest import World
from tests.factories import auth_header, make_agency
from tests.json_client import JsonClient


def _raise(w: World, kind: str = "welfare_check", **data: object) -> None:
    w.alert(kind, dict(data))


def test_pull_pages_with_a_cursor_and_shows_only_this_agencys_alerts(
    client: JsonClient, world: World
) -> None:
    world.consent(world.police, ["welfare_check", "safety_status"])
    world.consent(world.refuge, ["welfare_check"])
    _raise(world)
    world.clock.advance(seconds=1)
    _raise(world, "safety_status", status="safe")
    world.clock.advance(seconds=1)
    _raise(world)
    police = auth_header(world.police_key)
    first = client.get("/v1/partner/alerts?limit=2", headers=police)
    assert first.status_code == 200, first.json
    assert [i["type"] for i in first.json["items"]] == [
        "alert.welfare_check",
        "alert.safety_status",
    ]
    cursor = first.json["next_cursor"]
    second = client.get(f"/v1/partner/alerts?limit=2&cursor={cursor}", headers=police).json
    assert [i["type"] for i in second["items"]] == ["alert.welfare_check"]
    empty = client.get(f"/v1/partner/alerts?cursor={second['next_cursor']}", headers=police).json
    assert empty["items"] == []
    police_ref = reference_for(world.runtime.keyring, world.police.id, world.survivor.id)
    assert {i["data"]["reference"] for i in first.json["items"]} == {police_ref}
    assert first.json["items"][1]["data"]["status"] == "safe"
    # The refuge sees its own two welfare checks only, under its own reference.
    refuge = client.get("/v1/partner/alerts", headers=auth_header(world.refuge_key)).json
    assert [i["type"] for i in refuge["items"]] == ["alert.welfare_check", "alert.welfare_check"]
    refuge_ref = reference_for(world.runtime.keyring, world.refuge.id, world.survivor.id)
    assert {i["data"]["reference"] for i in refuge["items"]} == {refuge_ref}
    police_ids = {i["alert_id"] for i in first.json["items"] + second["items"]}
    refuge_ids = {i["alert_id"] for i in refuge["items"]}
    assert not police_ids & refuge_ids  # no shared id to join on
    # Pulling is a disclosure, logged once per alert.
    world.session.expire_all()
    assert len(world.session.scalars(select(Disclosure)).all()) == 5
    client.get("/v1/partner/alerts", headers=police)
    world.session.expire_all()
    assert len(world.session.scalars(select(Disclosure)).all()) == 5


def test_one_agency_can_never_read_or_ack_anothers_alerts(
    client: JsonClient, world: World
) -> None:
    world.consent(world.police, ["welfare_check"])
    _raise(world)
    police_items = client.get("/v1/partner/alerts", headers=auth_header(world.police_key)).json
    alert_id = police_items["items"][0]["alert_id"]
    refuge = auth_header(world.refuge_key)
    assert client.get("/v1/partner/alerts", headers=refuge).json["items"] == []
    assert client.post(f"/v1/partner/alerts/{alert_id}/ack", headers=refuge).status_code == 404
    # A police cursor gives the refuge nothing either.
    cursor = police_items["next_cursor"]
    assert client.get(f"/v1/partner/alerts?cursor={cursor}", headers=refuge).json["items"] == []
    ok = client.post(f"/v1/partner/alerts/{alert_id}/ack", headers=auth_header(world.police_key))
    assert ok.status_code == 200
    assert ok.json["acknowledged_at"]


def test_scopes_are_enforced(client: JsonClient, world: World) -> None:
    _, read_only = make_agency(world.session, world.runtime, "Court", "court", ("alerts:read",))
    _, events_only = make_agency(
        world.session, world.runtime, "Probation", "probation", ("events:write",)
    )
    assert client.get("/v1/partner/alerts", headers=auth_header(read_only)).status_code == 200
    assert client.get("/v1/partner/alerts", headers=auth_header(events_only)).status_code == 403
    import uuid

    ack = client.post(f"/v1/partner/alerts/{uuid.uuid4()}/ack", headers=auth_header(read_only))
    assert ack.status_code == 403
    # Staff and survivors are not partners.
    assert (
        client.get("/v1/partner/alerts", headers=auth_header(world.admin_token)).status_code == 403
    )
    assert (
        client.get("/v1/partner/alerts", headers=auth_header(world.survivor_token)).status_code
        == 403
    )


def test_revoked_consent_hides_alerts_from_the_pull_api(client: JsonClient, world: World) -> None:
    consent = world.consent(world.police, ["welfare_check"])
    _raise(world)
    client.post(
        f"/v1/survivor/consents/{consent.id}/revoke", headers=auth_header(world.survivor_token)
    )
    assert (
        client.get("/v1/partner/alerts", headers=auth_header(world.police_key)).json["items"] == []
    )


def test_bad_cursor_is_a_validation_error(client: JsonClient, world: World) -> None:
    r = client.get("/v1/partner/alerts?cursor=%%%", headers=auth_header(world.police_key))
    assert r.status_code == 422
