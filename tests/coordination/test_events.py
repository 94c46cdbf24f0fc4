"""Inbound agency events: idempotent, validated, agency-scoped, audited; advocates told."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from coordination.models import AgencyEvent, Disclosure, SurvivorNotice
from coordination.references import ensure_reference
from core.audit import AuditEvent
from core.notices import StaffNotice
from tests.coordination.conftest import World
from tests.factories import auth_header
from tests.json_client import JsonClient


def _event(w: World, **over: Any) -> dict[str, Any]:
    ref = ensure_reference(w.session, w.clock, w.runtime.keyring, w.police.id, w.survivor.id)
    body: dict[str, Any] = {
        "event_id": "custody-2026-0001",
        "reference": ref,
        "category": "custody",
        "type": "released",
        "occurred_at": (w.clock.now() - dt.timedelta(hours=1)).isoformat(),
        "note": "Released on bail, conditions: no contact",
    }
    body.update(over)
    return body


def _post(client: JsonClient, w: World, body: dict[str, Any], key: str | None = None) -> Any:
    return client.post("/v1/partner/events", json=body, headers=auth_header(key or w.police_key))


def _count(w: World, model: Any) -> int:
    w.session.expire_all()
    return int(w.session.scalar(select(func.count()).select_from(model)) or 0)


def test_same_event_id_twice_has_one_effect(client: JsonClient, world: World) -> None:
    body = _event(world)
    first = _post(client, world, body)
    assert first.status_code == 201, first.json
    again = _post(client, world, body)
    assert again.status_code == 200
    assert again.json["duplicate"] is True
    assert again.json["id"] == first.json["id"]
    assert _count(world, AgencyEvent) == 1
    assert _count(world, Disclosure) == 1
    notes = world.session.scalars(
        select(StaffNotice).where(StaffNotice.kind == "agency_event")
    ).all()
    assert len(notes) == 1
    audits = world.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "agency_event.received")
    ).all()
    assert len(audits) == 1
    # The same id with different content is refused, not silently merged.
    changed = _post(client, world, {**body, "type": "escaped"})
    assert changed.status_code == 409
    assert _count(world, AgencyEvent) == 1


def test_release_escape_breach_are_urgent_others_are_info(
    client: JsonClient, world: World
) -> None:
    cases = [
        ("e1", "custody", "released", "urgent"),
        ("e2", "custody", "escaped", "urgent"),
        ("e3", "court_order", "breached", "urgent"),
        ("e4", "court_order", "served", "info"),
        ("e5", "programme", "missed", "info"),
    ]
    for event_id, category, etype, _ in cases:
        r = _post(client, world, _event(world, event_id=event_id, category=category, type=etype))
        assert r.status_code == 201, r.json
    world.session.expire_all()
    notes = world.session.scalars(
        select(StaffNotice).where(StaffNotice.kind == "agency_event")
    ).all()
    by_type = {n.details["type"]: n.urgency for n in notes}
    assert by_type == {etype: urgency for _, _, etype, urgency in cases}
    assert {n.recipient_id for n in notes} == {world.advocate.id}
    # Notices carry no note text.
    assert all("note" not in n.details for n in notes)


def test_validation(client: JsonClient, world: World) -> None:
    assert (
        _post(client, world, _event(world, type="arrested", category="programme")).status_code
        == 422
    )
    assert _post(client, world, _event(world, category="weather")).status_code == 422
    assert _post(client, world, _event(world, note="x" * 1001)).status_code == 422
    assert _post(client, world, _event(world, occurred_at="2026-01-05T10:00:00")).status_code == 422
    future = (world.clock.now() + dt.timedelta(days=2)).isoformat()
    assert _post(client, world, _event(world, occurred_at=future)).status_code == 422
    assert _post(client, world, {**_event(world), "name": "x"}).status_code == 422
    assert _count(world, AgencyEvent) == 0


def test_another_agencys_reference_finds_nothing(client: JsonClient, world: World) -> None:
    police_body = _event(world)
    r = _post(client, world, police_body, key=world.refuge_key)
    assert r.status_code == 404
    assert _count(world, AgencyEvent) == 0


def test_scope_events_write_is_needed(client: JsonClient, world: World) -> None:
    from tests.factories import make_agency

    _, key = make_agency(world.session, world.runtime, "Court", "court", ("alerts:read",))
    assert _post(client, world, _event(world), key=key).status_code == 403


def test_survivor_told_in_neutral_words_only_if_opted_in(client: JsonClient, world: World) -> None:
    h = auth_header(world.survivor_token)
    _post(client, world, _event(world, event_id="a"))
    assert client.get("/v1/survivor/sharing-notices", headers=h).json["items"] == []
    r = client.put("/v1/survivor/sharing-preferences", json={"agency_news": True}, headers=h)
    assert r.status_code == 200
    assert r.json == {"agency_news": True}
    _post(client, world, _event(world, event_id="b"))
    items = client.get("/v1/survivor/sharing-notices", headers=h).json["items"]
    assert [i["kind"] for i in items] == ["agency_news"]
    assert "released" not in str(items)
    assert "Police" not in str(items)
    assert _count(world, SurvivorNotice) == 1


def test_advocates_list_events_with_the_note(client: JsonClient, world: World) -> None:
    _post(client, world, _event(world))
    r = client.get(
        f"/v1/staff/survivors/{world.survivor.id}/agency-events",
        headers=auth_header(world.advocate_token),
    )
    assert r.status_code == 200
    assert [(e["type"], e["note"]) for e in r.json["items"]] == [
        ("released", "Released on bail, conditions: no contact")
    ]
    row = world.session.scalars(select(AgencyEvent)).one()
    assert b"Released" not in (row.note_enc or b"")  # sealed at rest
