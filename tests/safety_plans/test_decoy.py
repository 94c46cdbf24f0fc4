"""Duress (decoy) sessions never see or change the real plan, and look like real ones."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.safety_plans.conftest import Party

PLAN = "/v1/survivor/safety-plan"


def _save_real(client: FlaskClient, party: Party, text: str) -> dict:
    v = client.get(PLAN, headers=party.survivor_headers)
    sections = v.json["sections"] | {"notes": [{"text": text}]}
    r = client.put(
        PLAN,
        json={"sections": sections},
        headers=party.survivor_headers | {"If-Match": v.headers["ETag"]},
    )
    assert r.status_code == 200
    return r.json


def test_decoy_session_sees_default_shopping_list_not_the_real_plan(
    client: FlaskClient, party: Party
) -> None:
    real = _save_real(client, party, "REAL-CANARY refuge address")
    r = client.get(PLAN, headers=party.decoy_headers)
    assert r.status_code == 200
    assert "REAL-CANARY" not in r.get_data(as_text=True)
    assert {"text": "Milk", "checked": False} in r.json["sections"]["notes"]
    # Same shape as a real plan: every section, a version, a strong ETag.
    assert set(r.json) == set(real)
    assert list(r.json["sections"]) == list(real["sections"])
    assert r.headers["ETag"] == f'"{r.json["version"]["id"]}"'
    versions = client.get(PLAN + "/versions", headers=party.decoy_headers).json["versions"]
    assert [v["id"] for v in versions] == [r.json["version"]["id"]]
    # A real version id is not found from a decoy session.
    real_id = real["version"]["id"]
    assert client.get(f"{PLAN}/versions/{real_id}", headers=party.decoy_headers).status_code == 404


def test_decoy_writes_answer_as_saved_but_change_nothing(client: FlaskClient, party: Party) -> None:
    _save_real(client, party, "REAL-CANARY")
    decoy = client.get(PLAN, headers=party.decoy_headers)
    sections = decoy.json["sections"] | {"notes": [{"text": "abuser typed this"}]}
    assert (
        client.put(PLAN, json={"sections": sections}, headers=party.decoy_headers).status_code
        == 428
    )
    r = client.put(
        PLAN,
        json={"sections": sections},
        headers=party.decoy_headers | {"If-Match": decoy.headers["ETag"]},
    )
    assert r.status_code == 200
    assert r.json["sections"]["notes"] == [{"text": "abuser typed this"}]
    assert r.headers["ETag"] != decoy.headers["ETag"]
    restore = client.post(
        f"{PLAN}/versions/{decoy.json['version']['id']}/restore",
        headers=party.decoy_headers | {"If-Match": decoy.headers["ETag"]},
    )
    assert restore.status_code == 200
    # The real plan is untouched, and so is the decoy.
    real = client.get(PLAN, headers=party.survivor_headers).json
    assert real["sections"]["notes"] == [{"text": "REAL-CANARY"}]
    assert real["version"]["number"] == 2
    assert len(client.get(PLAN + "/versions", headers=party.survivor_headers).json["versions"]) == 2
    assert client.get(PLAN, headers=party.decoy_headers).json == decoy.json
    # Switches and the decoy itself cannot be changed from a duress session.
    client.patch(
        "/v1/survivor/advocate-sharing", json={"plan_shared": False}, headers=party.decoy_headers
    )
    assert client.get("/v1/survivor/advocate-sharing", headers=party.survivor_headers).json[
        "plan_shared"
    ]
    client.put("/v1/survivor/decoy-plan", json={"sections": sections}, headers=party.decoy_headers)
    assert (
        client.get(PLAN, headers=party.decoy_headers).json["sections"]["notes"][0]["text"] == "Milk"
    )


def test_survivor_chosen_decoy_plan_is_served(client: FlaskClient, party: Party) -> None:
    _save_real(client, party, "REAL-CANARY")
    chosen = client.get(PLAN, headers=party.decoy_headers).json["sections"] | {
        "notes": [{"text": "Book club: chapter 4"}]
    }
    r = client.put(
        "/v1/survivor/decoy-plan", json={"sections": chosen}, headers=party.survivor_headers
    )
    assert r.status_code == 200
    served = client.get(PLAN, headers=party.decoy_headers)
    assert served.json["sections"]["notes"] == [{"text": "Book club: chapter 4"}]
    assert "REAL-CANARY" not in served.get_data(as_text=True)


def test_decoy_session_never_sees_or_changes_the_journal(client: FlaskClient, party: Party) -> None:
    import io
    import zipfile

    from safety_plans.bundle import verify
    from tests.safety_plans.test_journal import ENTRIES, JPEG, UPLOAD, entry, upload

    h, d = party.survivor_headers, party.decoy_headers
    photo = upload(client, h, JPEG).json
    real = client.post(
        ENTRIES, json=entry(description="REAL-CANARY", attachment_ids=[photo["id"]]), headers=h
    ).json
    assert client.get(ENTRIES, headers=d).json == {"entries": []}
    assert client.get(f"{ENTRIES}/{real['id']}", headers=d).status_code == 404
    assert client.get(f"{UPLOAD}/{photo['id']}", headers=d).status_code == 404
    # Writes look accepted but nothing is kept.
    fake = client.post(ENTRIES, json=entry(description="typed under duress"), headers=d)
    assert fake.status_code == 201
    assert set(fake.json) == set(real)
    assert upload(client, d, JPEG).status_code == 201
    assert client.delete(f"{ENTRIES}/{real['id']}", headers=d).status_code == 204
    mine = client.get(ENTRIES, headers=h).json["entries"]
    assert [(e["id"], e["deleted"], e["description"]) for e in mine] == [
        (real["id"], False, "REAL-CANARY")
    ]
    assert client.get(f"{UPLOAD}/{photo['id']}", headers=h).data == JPEG
    # The export from a decoy session is an empty, valid journal.
    bundle = client.get("/v1/survivor/journal/export", headers=d)
    assert bundle.status_code == 200
    assert b"REAL-CANARY" not in bundle.data
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as zf:
        assert b"REAL-CANARY" not in zf.read("entries.json")
    assert verify(io.BytesIO(bundle.data)).chain_ok  # signed too: test_export_signature.py
