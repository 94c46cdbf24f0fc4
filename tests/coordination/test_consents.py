"""Consents: the text shown, the receipt, expiry rules, confirmation, revocation, decoy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from coordination.models import Consent
from core.crypto import digest_items
from tests.coordination.conftest import World
from tests.decoy_exits import Exits, assert_only_the_alarm_left, decoy_ids, run_all_jobs
from tests.factories import auth_header, make_device
from tests.json_client import JsonClient


def _preview(client: JsonClient, w: World, **over: Any) -> Any:
    body = {"agency_id": str(w.police.id), "kinds": ["welfare_check", "risk_level"]}
    body["purpose"] = "So the police can check on me if I go quiet"
    body.update(over)
    return client.post(
        "/v1/survivor/consents/preview", json=body, headers=auth_header(w.survivor_token)
    )


def _give(client: JsonClient, w: World, preview: dict[str, Any], token: str | None = None) -> Any:
    body = {
        "agency_id": preview["agency_id"],
        "kinds": preview["kinds"],
        "purpose": preview["purpose"],
        "expires_at": preview["expires_at"],
        "text_hash": preview["text_hash"],
    }
    return client.post(
        "/v1/survivor/consents", json=body, headers=auth_header(token or w.survivor_token)
    )


def test_preview_offers_90_days_and_plain_text(client: JsonClient, world: World) -> None:
    r = _preview(client, world)
    assert r.status_code == 200, r.json
    p = r.json
    expires = dt.datetime.fromisoformat(p["expires_at"])
    assert expires - world.clock.now() == dt.timedelta(days=90)
    assert "Police" in p["text"]
    assert "check that you are safe" in p["text"]
    assert "risk level" in p["text"]
    assert "withdraw" in p["text"]
    assert "So the police can check on me" in p["text"]
    assert len(p["text_hash"]) == 64


def test_give_returns_receipt_hashing_exactly_what_was_agreed(
    client: JsonClient, world: World
) -> None:
    p = _preview(client, world).json
    r = _give(client, world, p)
    assert r.status_code == 201, r.json
    c = r.json
    assert c["state"] == "active"
    assert c["given_via"] == "app"
    assert c["receipt"]["text"] == p["text"]
    # The receipt hash is recomputable from the text and every field agreed.
    expected = digest_items(
        {
            "version": 1,
            "survivor_id": str(world.survivor.id),
            "agency_id": str(world.police.id),
            "kinds": ["welfare_check", "risk_level"],
            "purpose": "So the police can check on me if I go quiet",
            "starts_on": world.clock.now().date().isoformat(),
            "expires_at": dt.datetime.fromisoformat(p["expires_at"]).isoformat(),
            "text": p["text"],
        }
    )
    assert c["receipt"]["hash"] == expected
    listed = client.get("/v1/survivor/consents", headers=auth_header(world.survivor_token)).json
    assert [x["id"] for x in listed["items"]] == [c["id"]]


def test_changed_terms_do_not_match_the_shown_text(client: JsonClient, world: World) -> None:
    p = _preview(client, world).json
    p["kinds"] = ["welfare_check", "risk_level", "safety_status"]
    r = _give(client, world, p)
    assert r.status_code == 409
    assert world.session.scalar(select(func.count()).select_from(Consent)) == 0


def test_consent_without_expiry_is_refused(client: JsonClient, world: World) -> None:
    p = _preview(client, world).json
    body = {k: p[k] for k in ("agency_id", "kinds", "purpose", "text_hash")}
    r = client.post("/v1/survivor/consents", json=body, headers=auth_header(world.survivor_token))
    assert r.status_code == 422
    assert "expires_at" in str(r.json)
    body["expires_at"] = None
    r = client.post("/v1/survivor/consents", json=body, headers=auth_header(world.survivor_token))
    assert r.status_code == 422
    assert world.session.scalar(select(func.count()).select_from(Consent)) == 0


def test_expiry_over_twelve_months_or_under_a_day_is_refused(
    client: JsonClient, world: World
) -> None:
    too_late = (world.clock.now() + dt.timedelta(days=366)).isoformat()
    assert _preview(client, world, expires_at=too_late).status_code == 422
    too_soon = (world.clock.now() + dt.timedelta(hours=2)).isoformat()
    assert _preview(client, world, expires_at=too_soon).status_code == 422
    ok = (world.clock.now() + dt.timedelta(days=365)).isoformat()
    assert _preview(client, world, expires_at=ok).status_code == 200


def test_unknown_kind_and_unbounded_purpose_are_refused(client: JsonClient, world: World) -> None:
    assert _preview(client, world, kinds=["home_address"]).status_code == 422
    assert _preview(client, world, kinds=[]).status_code == 422
    assert _preview(client, world, purpose="x" * 501).status_code == 422


def test_advocate_recorded_consent_waits_for_the_survivor(
    client: JsonClient, world: World
) -> None:
    sid = world.survivor.id
    body = {
        "agency_id": str(world.refuge.id),
        "kinds": ["safety_status"],
        "purpose": "Agreed in person at the drop-in",
        "expires_at": (world.clock.now() + dt.timedelta(days=30)).isoformat(),
    }
    r = client.post(
        f"/v1/staff/survivors/{sid}/consents", json=body, headers=auth_header(world.advocate_token)
    )
    assert r.status_code == 201, r.json
    c = r.json
    assert c["state"] == "pending_confirmation"
    assert c["given_via"] == "advocate_recorded"
    # Not in force yet: an alert of its kind reaches nobody.
    _, sent = world.alert("safety_status", {"status": "safe"}, survivor_id=sid)
    assert sent == []
    # The survivor confirms with the receipt hash the app showed; a wrong hash is refused.
    h = auth_header(world.survivor_token)
    wrong = client.post(
        f"/v1/survivor/consents/{c['id']}/confirm", json={"receipt_hash": "0" * 64}, headers=h
    )
    assert wrong.status_code == 409
    ok = client.post(
        f"/v1/survivor/consents/{c['id']}/confirm",
        json={"receipt_hash": c["receipt"]["hash"]},
        headers=h,
    )
    assert ok.status_code == 200, ok.json
    assert ok.json["state"] == "active"
    world.session.expire_all()
    _, sent = world.alert("safety_status", {"status": "safe"}, survivor_id=sid)
    assert [d.agency_id for d in sent] == [world.refuge.id]


def test_revocation_by_survivor_and_by_advocate(client: JsonClient, world: World) -> None:
    first = world.consent(world.police, ["welfare_check"])
    second = world.consent(world.refuge, ["welfare_check"])
    r = client.post(
        f"/v1/survivor/consents/{first.id}/revoke", headers=auth_header(world.survivor_token)
    )
    assert r.status_code == 200
    assert r.json["state"] == "revoked"
    r = client.post(
        f"/v1/staff/survivors/{world.survivor.id}/consents/{second.id}/revoke",
        headers=auth_header(world.advocate_token),
    )
    assert r.status_code == 200
    assert r.json["state"] == "revoked"
    world.session.expire_all()
    row = world.session.get(Consent, second.id)
    assert row is not None
    assert row.revoked_by_kind == "staff"


def test_expired_consent_stops_by_itself(client: JsonClient, world: World) -> None:
    consent = world.consent(world.police, ["welfare_check"], days=2)
    world.clock.advance(days=2, seconds=1)
    _, token = make_device(world.session, world.runtime, world.survivor.id)  # the old one lapsed
    listed = client.get("/v1/survivor/consents", headers=auth_header(token)).json
    assert [(x["id"], x["state"]) for x in listed["items"]] == [(str(consent.id), "expired")]


def test_decoy_consents_are_its_own_and_no_agency_hears(client: JsonClient, world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    consent = world.consent(world.police, ["welfare_check"])
    _, decoy = make_device(world.session, world.runtime, world.survivor.id, decoy=True)
    h, real = auth_header(decoy), auth_header(world.survivor_token)
    exits = Exits.take(world.session, world.runtime)
    # The real consent is not the decoy's to see, confirm or revoke.
    assert client.get("/v1/survivor/consents", headers=h).json == {"items": []}
    assert client.get("/v1/survivor/disclosures", headers=h).json == {"items": []}
    assert client.post(f"/v1/survivor/consents/{consent.id}/revoke", headers=h).status_code == 404
    receipt = {"receipt_hash": consent.receipt_hash}
    r = client.post(f"/v1/survivor/consents/{consent.id}/confirm", json=receipt, headers=h)
    assert r.status_code == 404
    # The agencies to choose from are the same as in a real session...
    agencies = client.get("/v1/survivor/agencies", headers=h).json
    assert agencies == client.get("/v1/survivor/agencies", headers=real).json
    # ...and the decoy's own consents are previewed, given, listed and revoked as real ones.
    ask = {"agency_id": str(world.police.id), "kinds": ["risk_level"], "purpose": "MARAC"}
    terms = client.post("/v1/survivor/consents/preview", json=ask, headers=h)
    assert terms.status_code == 200
    given = _give(client, world, terms.json, token=decoy)
    assert given.status_code == 201
    assert given.json["state"] == "active"
    assert client.get("/v1/survivor/consents", headers=h).json == {"items": [given.json]}
    revoked = client.post(f"/v1/survivor/consents/{given.json['id']}/revoke", headers=h)
    assert revoked.json["state"] == "revoked"
    world.clock.advance(seconds=1)
    kept = _give(client, world, terms.json, token=decoy).json
    listed = client.get("/v1/survivor/consents", headers=h).json["items"]
    assert [(c["id"], c["state"]) for c in listed] == [
        (kept["id"], "active"),
        (given.json["id"], "revoked"),
    ]
    # An alert about the decoy (a high risk result raises one) reaches no agency, even one
    # the decoy consented to tell and that has a webhook.
    decoy_id = decoy_ids(world.session, world.survivor.id)[0]
    _, sent = world.alert(
        "risk_level", {"level": "high", "marac_referral": True}, survivor_id=decoy_id
    )
    assert sent == []
    world.session.commit()
    run_all_jobs(world.runtime)
    assert world.sender.sent == []
    police = client.get("/v1/partner/alerts", headers=auth_header(world.police_key)).json
    assert police["items"] == []
    assert client.get("/v1/survivor/disclosures", headers=h).json == {"items": []}
    # The real consent is untouched.
    world.session.expire_all()
    assert world.session.get_one(Consent, consent.id).state == "active"
    mine = client.get("/v1/survivor/consents", headers=real).json["items"]
    assert [c["id"] for c in mine] == [str(consent.id)]
    assert_only_the_alarm_left(world.session, world.runtime, exits, world.survivor.id)


def test_one_survivor_cannot_touch_anothers_consent(client: JsonClient, world: World) -> None:
    from tests.factories import make_survivor

    _, other_token = make_survivor(world.session, world.runtime)
    consent = world.consent(world.police, ["welfare_check"])
    r = client.post(f"/v1/survivor/consents/{consent.id}/revoke", headers=auth_header(other_token))
    assert r.status_code == 404
    world.session.expire_all()
    assert world.session.get_one(Consent, consent.id).state == "active"
