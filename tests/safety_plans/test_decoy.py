"""Duress (decoy) sessions work on the decoy account: what they write persists there and reads
back as in a real account; the real plan and journal are never shown, changed or reached."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests.decoy_exits import Exits, assert_only_the_alarm_left, decoy_ids, run_all_jobs
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party

PLAN = "/v1/survivor/safety-plan"


def _save_real(client: JsonClient, party: Party, text: str) -> Any:
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
    client: JsonClient, party: Party
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


def test_decoy_plan_writes_persist_in_the_decoy_and_never_touch_the_real_plan(
    client: JsonClient, party: Party, db_session: Session, runtime: Runtime
) -> None:
    _save_real(client, party, "REAL-CANARY")
    real_before = client.get(PLAN, headers=party.survivor_headers)
    d = party.decoy_headers
    exits = Exits.take(db_session, runtime)
    decoy = client.get(PLAN, headers=d)
    sections = decoy.json["sections"] | {"notes": [{"text": "abuser typed this"}]}
    assert client.put(PLAN, json={"sections": sections}, headers=d).status_code == 428
    r = client.put(
        PLAN, json={"sections": sections}, headers=d | {"If-Match": decoy.headers["ETag"]}
    )
    assert r.status_code == 200
    assert r.json["version"]["number"] == 2
    # A stale ETag is refused as in a real account, and what was saved reads back.
    stale = client.put(
        PLAN, json={"sections": sections}, headers=d | {"If-Match": decoy.headers["ETag"]}
    )
    assert stale.status_code == 412
    saved = client.get(PLAN, headers=d)
    assert saved.json == r.json
    assert saved.headers["ETag"] == r.headers["ETag"]
    versions = client.get(PLAN + "/versions", headers=d).json["versions"]
    assert [v["number"] for v in versions] == [2, 1]
    restore = client.post(
        f"{PLAN}/versions/{decoy.json['version']['id']}/restore",
        headers=d | {"If-Match": r.headers["ETag"]},
    )
    assert restore.status_code == 200
    assert restore.json["version"]["number"] == 3
    assert client.get(PLAN, headers=d).json["sections"] == decoy.json["sections"]
    # The sharing switches and the decoy plan read back in the decoy as they were set there.
    r = client.patch("/v1/survivor/advocate-sharing", json={"plan_shared": False}, headers=d)
    assert r.json["plan_shared"] is False
    assert client.get("/v1/survivor/advocate-sharing", headers=d).json["plan_shared"] is False
    chosen = {"sections": decoy.json["sections"] | {"notes": [{"text": "Book club"}]}}
    assert client.put("/v1/survivor/decoy-plan", json=chosen, headers=d).status_code == 200
    assert client.get("/v1/survivor/decoy-plan", headers=d).json == chosen
    # The real plan, its history, its switches and its decoy choice are untouched; the
    # advocate sees the real plan, and no plan at all for the decoy account.
    assert client.get(PLAN, headers=party.survivor_headers).json == real_before.json
    assert len(client.get(PLAN + "/versions", headers=party.survivor_headers).json["versions"]) == 2
    sharing = client.get("/v1/survivor/advocate-sharing", headers=party.survivor_headers).json
    assert sharing["plan_shared"] is True
    real_choice = client.get("/v1/survivor/decoy-plan", headers=party.survivor_headers).json
    assert {"text": "Milk", "checked": False} in real_choice["sections"]["notes"]
    staff = client.get(
        f"/v1/staff/survivors/{party.survivor.id}/safety-plan", headers=party.advocate_headers
    )
    assert staff.json["sections"]["notes"] == [{"text": "REAL-CANARY"}]
    decoy_id = decoy_ids(db_session, party.survivor.id)[0]
    assert (
        client.get(
            f"/v1/staff/survivors/{decoy_id}/safety-plan", headers=party.advocate_headers
        ).status_code
        == 404
    )
    run_all_jobs(runtime)
    assert_only_the_alarm_left(db_session, runtime, exits, party.survivor.id)


def test_survivor_chosen_decoy_plan_is_served(client: JsonClient, party: Party) -> None:
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


def test_decoy_journal_is_its_own_and_never_touches_the_real_one(
    client: JsonClient, party: Party, db_session: Session, runtime: Runtime
) -> None:
    from safety_plans.bundle import verify
    from tests.safety_plans.test_journal import ENTRIES, JPEG, PDF, UPLOAD, entry, upload

    h, d = party.survivor_headers, party.decoy_headers
    photo = upload(client, h, JPEG).json
    real = client.post(
        ENTRIES, json=entry(description="REAL-CANARY", attachment_ids=[photo["id"]]), headers=h
    ).json
    exits = Exits.take(db_session, runtime)
    assert client.get(ENTRIES, headers=d).json == {"entries": []}
    assert client.get(f"{ENTRIES}/{real['id']}", headers=d).status_code == 404
    assert client.get(f"{UPLOAD}/{photo['id']}", headers=d).status_code == 404
    # What the decoy writes is kept in the decoy, with an entry's whole shape.
    scan = upload(client, d, PDF).json
    kept = client.post(
        ENTRIES,
        json=entry(description="typed under duress", attachment_ids=[scan["id"]]),
        headers=d,
    )
    assert kept.status_code == 201
    assert set(kept.json) == set(real)
    assert kept.json["seq"] == 1
    assert client.get(ENTRIES, headers=d).json == {"entries": [kept.json]}
    assert client.get(f"{ENTRIES}/{kept.json['id']}", headers=d).json == kept.json
    assert client.get(f"{UPLOAD}/{scan['id']}", headers=d).data == PDF
    # The real entry is not the decoy's to delete; its own is, as in a real account.
    assert client.delete(f"{ENTRIES}/{real['id']}", headers=d).status_code == 404
    extra = client.post(ENTRIES, json=entry(description="delete me"), headers=d).json
    assert client.delete(f"{ENTRIES}/{extra['id']}", headers=d).status_code == 204
    assert client.get(f"{ENTRIES}/{extra['id']}", headers=d).json["deleted"] is True
    # The real journal is untouched.
    mine = client.get(ENTRIES, headers=h).json["entries"]
    assert [(e["id"], e["deleted"], e["description"]) for e in mine] == [
        (real["id"], False, "REAL-CANARY")
    ]
    assert client.get(f"{UPLOAD}/{photo['id']}", headers=h).data == JPEG
    # The decoy's export is its own journal, valid, with its attachment; never the real one.
    bundle = client.get("/v1/survivor/journal/export", headers=d)
    assert bundle.status_code == 200
    assert b"REAL-CANARY" not in bundle.data
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as zf:
        assert b"typed under duress" in zf.read("entries.json")
        assert zf.read(f"attachments/{scan['id']}") == PDF
    assert verify(io.BytesIO(bundle.data)).chain_ok  # signed too: test_export_signature.py
    run_all_jobs(runtime)
    assert_only_the_alarm_left(db_session, runtime, exits, party.survivor.id)
