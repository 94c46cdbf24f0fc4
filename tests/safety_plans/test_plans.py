"""Safety plan: template, versions, ETag/If-Match, restore, sharing switch, staff audit."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from safety_plans.sections import SECTIONS
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party

PLAN = "/v1/survivor/safety-plan"


def _staff_plan(party: Party) -> str:
    return f"/v1/staff/survivors/{party.survivor.id}/safety-plan"


def _edit(sections: dict[str, Any], text: str) -> dict[str, Any]:
    changed = copy.deepcopy(sections)
    changed["notes"] = [{"text": text}]
    return changed


def test_new_plan_starts_from_template_with_every_section(
    client: JsonClient, party: Party
) -> None:
    r = client.get(PLAN, headers=party.survivor_headers)
    assert r.status_code == 200, r.json
    body = r.json
    assert list(body["sections"]) == list(SECTIONS)
    assert body["version"]["number"] == 1
    assert body["version"]["author"] == "system"
    assert body["sections"]["escape_bag"][0]["checked"] is False
    assert "code_word" in body["sections"]["safe_contacts"][0]
    assert r.headers["ETag"] == f'"{body["version"]["id"]}"'
    # A second read is the same plan, not a second one.
    again = client.get(PLAN, headers=party.survivor_headers)
    assert again.headers["ETag"] == r.headers["ETag"]


def test_write_needs_if_match_428_and_stale_412(client: JsonClient, party: Party) -> None:
    first = client.get(PLAN, headers=party.survivor_headers)
    body = {"sections": _edit(first.json["sections"], "call Sam")}
    r = client.put(PLAN, json=body, headers=party.survivor_headers)
    assert r.status_code == 428
    assert r.mimetype == "application/problem+json"
    r = client.put(PLAN, json=body, headers=party.survivor_headers | {"If-Match": '"nope"'})
    assert r.status_code == 412
    r = client.put(
        PLAN, json=body, headers=party.survivor_headers | {"If-Match": "W/" + first.headers["ETag"]}
    )
    assert r.status_code == 412, "a weak tag never matches If-Match"
    r = client.put(
        PLAN, json=body, headers=party.survivor_headers | {"If-Match": first.headers["ETag"]}
    )
    assert r.status_code == 200, r.json
    assert r.json["version"]["number"] == 2
    assert r.headers["ETag"] != first.headers["ETag"]


def test_stale_writer_gets_412_and_first_write_survives(client: JsonClient, party: Party) -> None:
    """Survivor and advocate both read version 1; the advocate saves first; the survivor's
    save, based on the same ETag, is refused and the advocate's text is what remains."""
    survivor_read = client.get(PLAN, headers=party.survivor_headers)
    advocate_read = client.get(_staff_plan(party), headers=party.advocate_headers)
    assert survivor_read.headers["ETag"] == advocate_read.headers["ETag"]
    etag = survivor_read.headers["ETag"]
    a = client.put(
        _staff_plan(party),
        json={"sections": _edit(advocate_read.json["sections"], "advocate wrote this")},
        headers=party.advocate_headers | {"If-Match": etag},
    )
    assert a.status_code == 200
    assert a.json["version"]["author"] == "advocate"
    b = client.put(
        PLAN,
        json={"sections": _edit(survivor_read.json["sections"], "survivor wrote this")},
        headers=party.survivor_headers | {"If-Match": etag},
    )
    assert b.status_code == 412
    now = client.get(PLAN, headers=party.survivor_headers)
    assert now.json["sections"]["notes"] == [{"text": "advocate wrote this"}]
    assert now.json["version"]["number"] == 2


def test_history_read_any_version_and_restore(client: JsonClient, party: Party) -> None:
    v1 = client.get(PLAN, headers=party.survivor_headers)
    v2 = client.put(
        PLAN,
        json={"sections": _edit(v1.json["sections"], "second")},
        headers=party.survivor_headers | {"If-Match": v1.headers["ETag"]},
    )
    v3 = client.put(
        PLAN,
        json={"sections": _edit(v1.json["sections"], "third")},
        headers=party.survivor_headers | {"If-Match": v2.headers["ETag"]},
    )
    history = client.get(PLAN + "/versions", headers=party.survivor_headers).json["versions"]
    assert [v["number"] for v in history] == [3, 2, 1]
    old = client.get(f"{PLAN}/versions/{v2.json['version']['id']}", headers=party.survivor_headers)
    assert old.json["sections"]["notes"] == [{"text": "second"}]
    restore = f"{PLAN}/versions/{v2.json['version']['id']}/restore"
    assert client.post(restore, headers=party.survivor_headers).status_code == 428
    stale = client.post(restore, headers=party.survivor_headers | {"If-Match": v2.headers["ETag"]})
    assert stale.status_code == 412
    r = client.post(restore, headers=party.survivor_headers | {"If-Match": v3.headers["ETag"]})
    assert r.status_code == 200
    assert r.json["version"]["number"] == 4
    assert r.json["version"]["restored_from"] == 2
    assert client.get(PLAN, headers=party.survivor_headers).json["sections"]["notes"] == [
        {"text": "second"}
    ]


def test_versions_belong_to_their_plan(
    client: JsonClient, party: Party, db_session: Session, runtime: Any
) -> None:
    _other, other_token = make_survivor(db_session, runtime)
    db_session.commit()
    theirs = client.get(PLAN, headers=auth_header(other_token)).json["version"]["id"]
    mine = client.get(PLAN, headers=party.survivor_headers)
    assert (
        client.get(f"{PLAN}/versions/{theirs}", headers=party.survivor_headers).status_code == 404
    )
    restore = client.post(
        f"{PLAN}/versions/{theirs}/restore",
        headers=party.survivor_headers | {"If-Match": mine.headers["ETag"]},
    )
    assert restore.status_code == 404
    staff = f"{_staff_plan(party)}/versions/{theirs}"
    assert client.get(staff, headers=party.advocate_headers).status_code == 404


def test_validation_bounds_and_unknown_fields(client: JsonClient, party: Party) -> None:
    v1 = client.get(PLAN, headers=party.survivor_headers)
    headers = party.survivor_headers | {"If-Match": v1.headers["ETag"]}
    sections = v1.json["sections"]
    too_long = _edit(sections, "x" * 501)
    assert client.put(PLAN, json={"sections": too_long}, headers=headers).status_code == 422
    code_word_elsewhere = copy.deepcopy(sections)
    code_word_elsewhere["notes"] = [{"text": "a", "code_word": "b"}]
    assert (
        client.put(PLAN, json={"sections": code_word_elsewhere}, headers=headers).status_code == 422
    )
    missing = copy.deepcopy(sections)
    del missing["pets"]
    assert client.put(PLAN, json={"sections": missing}, headers=headers).status_code == 422


def test_advocate_access_follows_the_survivor_switch_and_is_audited(
    client: JsonClient, party: Party, db_session: Session
) -> None:
    assert client.get(_staff_plan(party), headers=party.advocate_headers).status_code == 200
    events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.survivor_id == party.survivor.id, AuditEvent.action == "safety_plan.read"
        )
    ).all()
    assert len(events) == 1
    assert events[0].actor_id == party.advocate.id
    r = client.patch(
        "/v1/survivor/advocate-sharing", json={"plan_shared": False}, headers=party.survivor_headers
    )
    assert r.json == {"plan_shared": False, "journal_shared": False}
    assert client.get(_staff_plan(party), headers=party.advocate_headers).status_code == 404
    assert (
        client.get(_staff_plan(party) + "/versions", headers=party.advocate_headers).status_code
        == 404
    )
    client.patch(
        "/v1/survivor/advocate-sharing", json={"plan_shared": True}, headers=party.survivor_headers
    )
    assert client.get(_staff_plan(party), headers=party.advocate_headers).status_code == 200


def test_advocate_not_on_caseload_is_404(
    client: JsonClient, party: Party, db_session: Session, runtime: Any
) -> None:
    _stranger, token = make_staff(db_session, runtime)
    db_session.commit()
    assert client.get(_staff_plan(party), headers=auth_header(token)).status_code == 404
    # The survivor cannot use staff routes, and staff cannot use survivor routes.
    assert client.get(_staff_plan(party), headers=party.survivor_headers).status_code == 403
    assert client.get(PLAN, headers=party.advocate_headers).status_code == 403


def test_priorities_are_validated_and_kept(client: JsonClient, party: Party) -> None:
    r = client.put(
        "/v1/survivor/priorities",
        json={"priorities": ["housing", "safety"]},
        headers=party.survivor_headers,
    )
    assert r.json == {"priorities": ["safety", "housing"]}
    assert client.get("/v1/survivor/priorities", headers=party.survivor_headers).json == r.json
    bad = client.put(
        "/v1/survivor/priorities", json={"priorities": ["revenge"]}, headers=party.survivor_headers
    )
    assert bad.status_code == 422


def test_advocate_reads_and_writes_appear_in_the_survivors_access_log(
    client: JsonClient, party: Party
) -> None:
    read = client.get(_staff_plan(party), headers=party.advocate_headers)
    client.put(
        _staff_plan(party),
        json={"sections": _edit(read.json["sections"], "advocate note")},
        headers=party.advocate_headers | {"If-Match": read.headers["ETag"]},
    )
    # The survivor's own reads and writes are not listed; the advocate's are.
    client.get(PLAN, headers=party.survivor_headers)
    log = client.get("/v1/survivor/access-log", headers=party.survivor_headers)
    assert log.status_code == 200, log.json
    actions = [(i["action"], i["actor_kind"], i["via"]) for i in log.json["items"]]
    assert sorted(actions) == [
        ("safety_plan.read", "staff", "caseload"),
        ("safety_plan.write", "staff", "caseload"),
    ]
