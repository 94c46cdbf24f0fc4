"""Tailoring: risk level and priorities choose plan items; adopting them is one new version."""

from __future__ import annotations

from safety_plans.recommendations import Recommendation, catalogue, select_for
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party
from tests.safety_plans.test_instruments import dash_answers

RECS = "/v1/survivor/recommendations"


def _ids(chosen: list[tuple[Recommendation, list[str]]]) -> set[str]:
    return {rec.id for rec, _because in chosen}


def test_selection_follows_level_and_priorities() -> None:
    everyone = _ids(select_for(None, []))
    assert everyone == {"safety-call-999", "wellbeing-support"}
    children = _ids(select_for("standard", ["children"]))
    assert {"children-plan", "children-school"} <= children
    assert "children-contact" not in children, "contact handovers are for elevated/high risk"
    assert "children-contact" in _ids(select_for("high", ["children"]))
    high = _ids(select_for("high", []))
    assert "safety-marac" in high
    assert "safety-marac" not in _ids(select_for("elevated", []))
    assert not any(r.id.startswith("housing") for r, _ in select_for("high", ["privacy"]))
    because = dict((r.id, b) for r, b in select_for("high", ["children"]))
    assert because["children-contact"] == ["children", "risk_level:high"]
    assert len(catalogue()) == 20


def test_survivor_gets_tailored_items_and_adopts_them_in_one_version(
    client: JsonClient, party: Party
) -> None:
    client.put(
        "/v1/survivor/priorities",
        json={"priorities": ["children", "privacy"]},
        headers=party.survivor_headers,
    )
    client.post(
        "/v1/survivor/assessments",
        json={"instrument_id": "dash", "answers": dash_answers(15)},
        headers=party.survivor_headers,
    )
    r = client.get(RECS, headers=party.survivor_headers)
    assert r.json["level"] == "high"
    assert r.json["priorities"] == ["children", "privacy"]
    ids = {rec["id"] for rec in r.json["recommendations"]}
    assert {"children-contact", "privacy-trackers", "safety-marac"} <= ids
    assert "housing-refuge" not in ids
    plan = client.get("/v1/survivor/safety-plan", headers=party.survivor_headers)
    adopt = "/v1/survivor/safety-plan/recommendations"
    body = {"recommendation_ids": ["children-contact", "privacy-trackers"]}
    assert client.post(adopt, json=body, headers=party.survivor_headers).status_code == 428
    done = client.post(
        adopt, json=body, headers=party.survivor_headers | {"If-Match": plan.headers["ETag"]}
    )
    assert done.status_code == 200, done.json
    assert done.json["version"]["number"] == 2
    texts = [i["text"] for i in done.json["sections"]["children"]]
    assert any("contact centre" in t for t in texts)
    assert done.json["sections"]["technology_safety"][-1]["checked"] is False
    # Adopted items are no longer recommended; a stale ETag is refused.
    after = {
        rec["id"]
        for rec in client.get(RECS, headers=party.survivor_headers).json["recommendations"]
    }
    assert "children-contact" not in after
    assert "privacy-trackers" not in after
    stale = client.post(
        adopt,
        json={"recommendation_ids": ["safety-marac"]},
        headers=party.survivor_headers | {"If-Match": plan.headers["ETag"]},
    )
    assert stale.status_code == 412
    unknown = client.post(
        adopt,
        json={"recommendation_ids": ["nope"]},
        headers=party.survivor_headers | {"If-Match": done.headers["ETag"]},
    )
    assert unknown.status_code == 422


def test_advocate_sees_recommendations_and_decoy_adopt_changes_nothing(
    client: JsonClient, party: Party
) -> None:
    staff = f"/v1/staff/survivors/{party.survivor.id}/recommendations"
    assert client.get(staff, headers=party.advocate_headers).json["level"] is None
    decoy_plan = client.get("/v1/survivor/safety-plan", headers=party.decoy_headers)
    r = client.post(
        "/v1/survivor/safety-plan/recommendations",
        json={"recommendation_ids": ["housing-refuge"]},
        headers=party.decoy_headers | {"If-Match": decoy_plan.headers["ETag"]},
    )
    assert r.status_code == 200
    real = client.get("/v1/survivor/safety-plan", headers=party.survivor_headers).json
    assert real["version"]["number"] == 1
    assert all("refuge" not in i["text"] for i in real["sections"]["safe_places"])


def test_advocate_adopts_recommendations_with_the_survivor(
    client: JsonClient, party: Party
) -> None:
    base = f"/v1/staff/survivors/{party.survivor.id}"
    plan = client.get(base + "/safety-plan", headers=party.advocate_headers)
    r = client.post(
        base + "/safety-plan/recommendations",
        json={"recommendation_ids": ["wellbeing-support"]},
        headers=party.advocate_headers | {"If-Match": plan.headers["ETag"]},
    )
    assert r.status_code == 200, r.json
    assert r.json["version"]["author"] == "advocate"
    mine = client.get("/v1/survivor/safety-plan", headers=party.survivor_headers).json
    assert mine["version"]["number"] == 2
    assert any("talk to" in i["text"] for i in mine["sections"]["wellbeing"])
