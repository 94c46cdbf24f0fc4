"""Storage limits on safety plans: the size of one version, and saves per minute per author.

A refused save stores nothing: the plan, its ETag and its history stay as they were.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from core.clock import FrozenClock
from core.ids import new_id
from core.runtime import Runtime
from safety_plans.sections import MAX_ITEM_TEXT, MAX_ITEMS_PER_SECTION, SECTIONS, Sections
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.refusals import assert_refused
from tests.safety_plans.conftest import Party, change_settings

PLAN = "/v1/survivor/safety-plan"
ADOPT = "/v1/survivor/safety-plan/recommendations"
DECOY = "/v1/survivor/decoy-plan"


def plan_bytes(sections: dict[str, Any]) -> int:
    """What the limit measures: the sections as compact UTF-8 JSON."""
    return len(json.dumps(sections, ensure_ascii=False, separators=(",", ":")).encode())


def plan_of_size(size: int) -> dict[str, Any]:
    """Sections (in stored order, plain items) measuring exactly ``size`` bytes."""
    sections: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
    for name in itertools.cycle(SECTIONS):
        if len(sections[name]) >= MAX_ITEMS_PER_SECTION:
            continue
        sections[name].append({"text": ""})
        room = size - plan_bytes(sections)
        if room <= MAX_ITEM_TEXT:
            sections[name][-1]["text"] = "x" * room
            break
        # Leave enough room that the next item's text is never empty.
        sections[name][-1]["text"] = "x" * min(MAX_ITEM_TEXT, room - 40)
    assert plan_bytes(sections) == size
    return sections


def _current(client: JsonClient, headers: dict[str, str], path: str = PLAN) -> Any:
    r = client.get(path, headers=headers)
    assert r.status_code == 200
    return r


def _save(client: JsonClient, headers: dict[str, str], sections: Any, path: str = PLAN) -> Any:
    etag = _current(client, headers, path).headers["ETag"]
    return client.put(path, json={"sections": sections}, headers=headers | {"If-Match": etag})


def _notes(text: str) -> dict[str, Any]:
    return {name: [] for name in SECTIONS} | {"notes": [{"text": text}]}


def _adopting_is_refused_and_changes_nothing(client: JsonClient, h: dict[str, str]) -> None:
    before = _current(client, h)
    r = client.post(
        ADOPT,
        json={"recommendation_ids": ["safety-call-999"]},  # an emergency number
        headers=h | {"If-Match": before.headers["ETag"]},
    )
    assert_refused(r, 413, "plan-too-large")
    assert _current(client, h).json == before.json


def test_a_plan_at_the_size_limit_saves_one_byte_more_is_refused_and_nothing_changes(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    h = party.survivor_headers
    limit = runtime.settings.plan_max_bytes
    assert _save(client, h, plan_of_size(limit)).status_code == 200
    before = _current(client, h)
    versions = client.get(PLAN + "/versions", headers=h).json["versions"]
    r = client.put(
        PLAN,
        json={"sections": plan_of_size(limit + 1)},
        headers=h | {"If-Match": before.headers["ETag"]},
    )
    assert_refused(r, 413, "plan-too-large")
    after = _current(client, h)
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.json == before.json
    assert client.get(PLAN + "/versions", headers=h).json["versions"] == versions


def test_the_size_is_counted_in_utf8_so_every_script_gets_the_same_room(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    """Cyrillic takes two bytes a character in UTF-8 but six as a JSON escape; a survivor
    writing in Russian must not get a third of the room."""
    text = "ж" * MAX_ITEM_TEXT
    sections: Sections = {name: [] for name in SECTIONS} | {"notes": [{"text": text}] * 50}
    assert plan_bytes(sections) < runtime.settings.plan_max_bytes
    assert len(json.dumps(sections)) > runtime.settings.plan_max_bytes
    r = _save(client, party.survivor_headers, sections)
    assert r.status_code == 200, r.json
    assert _current(client, party.survivor_headers).json["sections"]["notes"][0]["text"] == text


def test_restore_and_recommendations_are_held_to_the_size_limit(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    h = party.survivor_headers
    big = plan_of_size(40_000)
    big_version = _save(client, h, big).json["version"]["id"]
    assert _save(client, h, _notes("small again")).status_code == 200
    # The limit was lowered since the big version was saved: restoring it would write a
    # version over the limit, so it is refused, and the old version is still there to read.
    change_settings(runtime, plan_max_bytes=30_000)
    before = _current(client, h)
    r = client.post(
        f"{PLAN}/versions/{big_version}/restore", headers=h | {"If-Match": before.headers["ETag"]}
    )
    assert_refused(r, 413, "plan-too-large")
    assert _current(client, h).headers["ETag"] == before.headers["ETag"]
    old = client.get(f"{PLAN}/versions/{big_version}", headers=h)
    assert old.status_code == 200
    assert old.json["sections"] == big

    # A plan just under the limit, and a recommendation that would take it over.
    assert _save(client, h, plan_of_size(30_000 - 20)).status_code == 200
    _adopting_is_refused_and_changes_nothing(client, h)


def test_a_recommendation_cannot_push_a_section_past_its_item_limit(
    client: JsonClient, party: Party
) -> None:
    """Otherwise the survivor could no longer save the plan she was shown (422 on PUT)."""
    h = party.survivor_headers
    full: Sections = {name: [] for name in SECTIONS} | {
        "emergency_numbers": [{"text": f"number {n}"} for n in range(MAX_ITEMS_PER_SECTION)]
    }
    assert _save(client, h, full).status_code == 200
    _adopting_is_refused_and_changes_nothing(client, h)


def test_the_decoy_plan_is_held_to_the_size_limit_and_a_decoy_session_is_answered_alike(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    limit = runtime.settings.plan_max_bytes
    h, d = party.survivor_headers, party.decoy_headers
    r = client.put(DECOY, json={"sections": plan_of_size(limit + 1)}, headers=h)
    assert_refused(r, 413, "plan-too-large")
    assert client.put(DECOY, json={"sections": plan_of_size(limit)}, headers=h).status_code == 200
    # From the duress session, the same oversized save gets the same answer as a real one.
    etag = _current(client, d).headers["ETag"]
    r = client.put(PLAN, json={"sections": plan_of_size(limit + 1)}, headers=d | {"If-Match": etag})
    assert_refused(r, 413, "plan-too-large")


def test_plan_saves_per_minute_boundary_and_the_window_frees_a_slot(
    client: JsonClient, party: Party, runtime: Runtime, clock: FrozenClock
) -> None:
    h = party.survivor_headers
    limit = runtime.settings.plan_saves_per_minute
    for n in range(limit):
        assert _save(client, h, _notes(f"save {n}")).status_code == 200
        clock.advance(seconds=1)
    before = _current(client, h)
    r = client.put(
        PLAN,
        json={"sections": _notes("one too many")},
        headers=h | {"If-Match": before.headers["ETag"]},
    )
    # The first save was `limit` seconds ago: its slot frees 60 seconds after it was made.
    assert_refused(r, 429, "plan-saves-limited", retry_after=60 - limit)
    assert _current(client, h).json == before.json
    clock.advance(seconds=60 - limit - 1)
    r = client.put(
        PLAN,
        json={"sections": _notes("still too soon")},
        headers=h | {"If-Match": before.headers["ETag"]},
    )
    assert_refused(r, 429, "plan-saves-limited", retry_after=1)
    clock.advance(seconds=1)
    assert _save(client, h, _notes("after the window")).status_code == 200


def test_a_staff_members_saves_count_across_every_plan_they_edit(
    client: JsonClient, party: Party, runtime: Runtime, db_session: Session
) -> None:
    limit = runtime.settings.plan_saves_per_minute
    other, other_token = make_survivor(db_session, runtime, advocate=party.advocate)
    db_session.commit()
    paths = [
        f"/v1/staff/survivors/{party.survivor.id}/safety-plan",
        f"/v1/staff/survivors/{other.id}/safety-plan",
    ]
    a = party.advocate_headers
    for n in range(limit):
        r = _save(client, a, _notes(f"advocate {n}"), paths[n % 2])
        assert r.status_code == 200, r.json
    r = _save(client, a, _notes("one too many"), paths[limit % 2])
    assert_refused(r, 429, "plan-saves-limited", retry_after=60)
    # The survivors' own saves are theirs, not the advocate's.
    assert _save(client, party.survivor_headers, _notes("mine")).status_code == 200
    assert _save(client, auth_header(other_token), _notes("mine too")).status_code == 200
    # Another advocate on the same caseload is not held back by this one.
    second, second_token = make_staff(db_session, runtime)
    db_session.add(
        CaseloadEntry(
            id=new_id(),
            survivor_id=party.survivor.id,
            staff_id=second.id,
            assigned_at=runtime.clock.now(),
        )
    )
    db_session.commit()
    assert _save(client, auth_header(second_token), _notes("x"), paths[0]).status_code == 200
