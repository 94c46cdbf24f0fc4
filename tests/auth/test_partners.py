"""Partner agencies and API keys: admin management, key lifecycle, keys bound to their agency."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.partners.models import PartnerApiKey
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import token_digest
from core.runtime import Runtime
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from tests.json_client import JsonClient

AGENCIES = "/v1/admin/agencies"


def _admin(db_session: Session, runtime: Runtime) -> dict[str, str]:
    return auth_header(make_staff(db_session, runtime, role="admin")[1])


def _create_agency(client: JsonClient, admin: dict[str, str], **body: object) -> Any:
    payload = {"name": "Northshire Police", "kind": "police", **body}
    r = client.post(AGENCIES, json=payload, headers=admin)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def _issue(client: JsonClient, admin: dict[str, str], agency_id: str, **body: object) -> Any:
    payload = {"scopes": ["alerts:read"], **body}
    r = client.post(f"{AGENCIES}/{agency_id}/api-keys", json=payload, headers=admin)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def _me(client: JsonClient, api_key: str) -> int:
    return client.get("/v1/partner/me", headers=auth_header(api_key)).status_code


def _actions(db_session: Session) -> list[str]:
    db_session.expire_all()
    return list(db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_admin_creates_lists_gets_updates_and_disables_agency(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    created = _create_agency(client, admin, contact="Public protection desk")
    assert created["kind"] == "police"
    assert created["disabled_at"] is None
    agency_id = created["id"]

    listed = client.get(AGENCIES, headers=admin).json["items"]
    assert [a["id"] for a in listed] == [agency_id]
    assert client.get(f"{AGENCIES}/{agency_id}", headers=admin).json["name"] == "Northshire Police"

    r = client.patch(f"{AGENCIES}/{agency_id}", json={"kind": "probation"}, headers=admin)
    assert r.status_code == 200
    assert r.json["kind"] == "probation"
    assert r.json["name"] == "Northshire Police"

    r = client.post(f"{AGENCIES}/{agency_id}/disable", headers=admin)
    assert r.status_code == 200
    assert r.json["disabled_at"] is not None
    assert _actions(db_session)[-3:] == ["agency.create", "agency.update", "agency.disable"]


def test_agency_kind_and_unknown_fields_are_validated(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    r = client.post(AGENCIES, json={"name": "X", "kind": "vigilantes"}, headers=admin)
    assert r.status_code == 422
    assert "kind" in r.json["errors"]
    r = client.post(AGENCIES, json={"name": "X", "kind": "court", "admin": True}, headers=admin)
    assert r.status_code == 422
    for kind in ("childrens_services", "perpetrator_programme", "refuge", "other"):
        assert _create_agency(client, admin, kind=kind)["kind"] == kind


def test_only_admins_manage_agencies(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    agency, api_key = make_agency(db_session, runtime)
    advocate = auth_header(make_staff(db_session, runtime, role="advocate")[1])
    supervisor = auth_header(make_staff(db_session, runtime, role="supervisor")[1])
    pending_admin = auth_header(make_staff(db_session, runtime, role="admin", enrolled=False)[1])
    survivor = auth_header(make_survivor(db_session, runtime)[1])
    for headers in (advocate, supervisor, pending_admin, survivor, auth_header(api_key)):
        assert client.get(AGENCIES, headers=headers).status_code == 403
        assert (
            client.post(AGENCIES, json={"name": "X", "kind": "court"}, headers=headers).status_code
            == 403
        )
        r = client.post(
            f"{AGENCIES}/{agency.id}/api-keys", json={"scopes": ["alerts:read"]}, headers=headers
        )
        assert r.status_code == 403


def test_issued_key_is_shown_once_stored_digested_and_authenticates_as_its_agency(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    issued = _issue(client, admin, agency_id, scopes=["events:write", "alerts:read"])
    key_id, api_key = issued["key_id"], issued["api_key"]
    assert api_key.startswith(f"pk_{key_id}.")
    assert issued["scopes"] == ["alerts:read", "events:write"]
    assert issued["expires_at"] is None

    secret = api_key.split(".", 1)[1]
    db_session.expire_all()
    row = db_session.scalars(select(PartnerApiKey).where(PartnerApiKey.key_id == key_id)).one()
    assert row.secret_digest == token_digest(secret)
    assert secret not in row.secret_digest

    listing = client.get(f"{AGENCIES}/{agency_id}/api-keys", headers=admin)
    assert listing.status_code == 200
    assert secret not in listing.get_data(as_text=True)
    assert listing.json["items"][0]["key_id"] == key_id
    assert listing.json["items"][0]["status"] == "active"

    me = client.get("/v1/partner/me", headers=auth_header(api_key))
    assert me.status_code == 200
    assert me.json == {
        "agency_id": agency_id,
        "name": "Northshire Police",
        "kind": "police",
        "key_id": key_id,
        "scopes": ["alerts:read", "events:write"],
    }
    assert "partner_key.issue" in _actions(db_session)


def test_wrong_secret_for_a_real_key_id_is_refused(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _agency, api_key = make_agency(db_session, runtime)
    key_id = api_key.split(".", 1)[0].removeprefix("pk_")
    assert _me(client, api_key) == 200
    assert _me(client, f"pk_{key_id}.{'A' * 43}") == 401
    assert _me(client, f"pk_{key_id}") == 401


def test_scopes_are_validated(client: JsonClient, db_session: Session, runtime: Runtime) -> None:
    admin = _admin(db_session, runtime)
    url = f"{AGENCIES}/{_create_agency(client, admin)['id']}/api-keys"
    refused: list[dict[str, object]] = [
        {"scopes": []},
        {"scopes": ["alerts:write"]},
        {"scopes": ["alerts:read", "alerts:read"]},
        {"scopes": ["alerts:read"], "expires_in_days": 0},
        {"scopes": ["alerts:read"], "expires_in_days": 2.5},
        {},
    ]
    for body in refused:
        assert client.post(url, json=body, headers=admin).status_code == 422, body


def test_key_with_lifetime_expires(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    issued = _issue(client, admin, agency_id, expires_in_days=30)
    expected = clock.now() + dt.timedelta(days=30)
    assert dt.datetime.fromisoformat(issued["expires_at"]) == expected
    clock.advance(days=29, hours=23)
    assert _me(client, issued["api_key"]) == 200
    clock.advance(hours=1)
    assert _me(client, issued["api_key"]) == 401


def test_rotation_keeps_old_key_for_grace_period_then_stops(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    old = _issue(client, admin, agency_id, scopes=["alerts:ack", "alerts:read"])
    r = client.post(f"{AGENCIES}/{agency_id}/api-keys/{old['key_id']}/rotate", headers=admin)
    assert r.status_code == 201, r.get_data(as_text=True)
    new = r.json
    assert new["key_id"] != old["key_id"]
    assert new["api_key"] != old["api_key"]
    assert new["scopes"] == ["alerts:ack", "alerts:read"]
    assert new["replaces"] == old["key_id"]
    grace_end = clock.now() + dt.timedelta(hours=24)
    assert dt.datetime.fromisoformat(new["replaced_key_expires_at"]) == grace_end

    listing = {
        k["key_id"]: k
        for k in client.get(f"{AGENCIES}/{agency_id}/api-keys", headers=admin).json["items"]
    }
    assert listing[old["key_id"]]["status"] == "rotating"
    assert listing[old["key_id"]]["replaced_by"] == new["key_id"]

    # A second rotation of the same key would fork the chain.
    again = client.post(f"{AGENCIES}/{agency_id}/api-keys/{old['key_id']}/rotate", headers=admin)
    assert again.status_code == 409

    clock.advance(hours=23, minutes=59)
    assert _me(client, old["api_key"]) == 200
    assert _me(client, new["api_key"]) == 200
    clock.advance(minutes=1)
    assert _me(client, old["api_key"]) == 401
    assert _me(client, new["api_key"]) == 200
    assert "partner_key.rotate" in _actions(db_session)


def test_rotated_key_keeps_its_lifetime_policy(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    old = _issue(client, admin, agency_id, expires_in_days=90)
    clock.advance(days=10)
    admin = _admin(db_session, runtime)  # the first session has long expired
    new = client.post(f"{AGENCIES}/{agency_id}/api-keys/{old['key_id']}/rotate", headers=admin).json
    assert dt.datetime.fromisoformat(new["expires_at"]) == clock.now() + dt.timedelta(days=90)


def test_revoke_stops_a_key_at_once_and_revoked_key_cannot_be_rotated(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    issued = _issue(client, admin, agency_id)
    other = _issue(client, admin, agency_id)
    assert _me(client, issued["api_key"]) == 200
    r = client.post(f"{AGENCIES}/{agency_id}/api-keys/{issued['key_id']}/revoke", headers=admin)
    assert r.status_code == 200
    assert r.json["status"] == "revoked"
    assert _me(client, issued["api_key"]) == 401
    assert _me(client, other["api_key"]) == 200
    rotate = client.post(
        f"{AGENCIES}/{agency_id}/api-keys/{issued['key_id']}/rotate", headers=admin
    )
    assert rotate.status_code == 409
    assert "partner_key.revoke" in _actions(db_session)


def test_revoking_a_rotated_key_ends_its_grace_period(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    old = _issue(client, admin, agency_id)
    client.post(f"{AGENCIES}/{agency_id}/api-keys/{old['key_id']}/rotate", headers=admin)
    assert _me(client, old["api_key"]) == 200
    client.post(f"{AGENCIES}/{agency_id}/api-keys/{old['key_id']}/revoke", headers=admin)
    assert _me(client, old["api_key"]) == 401


def test_key_is_managed_only_under_its_own_agency(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    first = _create_agency(client, admin, name="Police")["id"]
    second = _create_agency(client, admin, name="Refuge", kind="refuge")["id"]
    key = _issue(client, admin, first)
    for action in ("revoke", "rotate"):
        r = client.post(f"{AGENCIES}/{second}/api-keys/{key['key_id']}/{action}", headers=admin)
        assert r.status_code == 404
    assert _me(client, key["api_key"]) == 200
    me = client.get("/v1/partner/me", headers=auth_header(key["api_key"])).json
    assert me["agency_id"] == first


def test_disabling_an_agency_revokes_its_keys_and_refuses_new_ones(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    agency_id = _create_agency(client, admin)["id"]
    key = _issue(client, admin, agency_id)
    client.post(f"{AGENCIES}/{agency_id}/disable", headers=admin)
    assert _me(client, key["api_key"]) == 401
    db_session.expire_all()
    row = db_session.scalars(
        select(PartnerApiKey).where(PartnerApiKey.key_id == key["key_id"])
    ).one()
    assert row.revoked_at is not None
    r = client.post(
        f"{AGENCIES}/{agency_id}/api-keys", json={"scopes": ["alerts:read"]}, headers=admin
    )
    assert r.status_code == 409
    # Disabling twice is harmless and audited once.
    assert client.post(f"{AGENCIES}/{agency_id}/disable", headers=admin).status_code == 200
    assert _actions(db_session).count("agency.disable") == 1


def test_unknown_agency_is_404(client: JsonClient, db_session: Session, runtime: Runtime) -> None:
    admin = _admin(db_session, runtime)
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"{AGENCIES}/{missing}", headers=admin).status_code == 404
    assert client.get(f"{AGENCIES}/{missing}/api-keys", headers=admin).status_code == 404


def test_partner_me_is_for_partner_keys_only(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    admin = _admin(db_session, runtime)
    survivor = auth_header(make_survivor(db_session, runtime)[1])
    assert client.get("/v1/partner/me", headers=admin).status_code == 403
    assert client.get("/v1/partner/me", headers=survivor).status_code == 403
    assert client.get("/v1/partner/me").status_code == 401
