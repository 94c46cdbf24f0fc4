"""Case labels under attack: malformed input, the caseload page's query count, and every
reader who must never see a label (a partner agency reading all it can, the survivor's app).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session, sessionmaker

from api.wiring import wire
from auth.access import case_labels, caseload
from auth.access.permissions import SurvivorAccess
from auth.principals import StaffPrincipal
from coordination.alerts import payload_of
from coordination.models import Delivery
from core.audit import AuditEvent
from core.ids import new_id
from core.runtime import Runtime
from tests.coordination import matrix as coordination_matrix
from tests.factories import auth_header, make_staff, make_survivor
from tests.identities import World, build_world
from tests.json_client import JsonClient
from tests.test_permission_matrix import PARAM_FACTORIES
from web.problems import PROBLEM_MIME

ORIGINAL = "Original label"

MALFORMED: dict[str, bytes] = {
    "lone-surrogate": b'{"case_label": "\\ud800"}',
    "low-surrogate-in-text": b'{"case_label": "ok \\udc00 ok"}',
    "nul": b'{"case_label": "a\\u0000b"}',
    "ten-kilobytes": json.dumps({"case_label": "x" * 10_240}).encode(),
    "one-too-many": json.dumps({"case_label": "x" * (case_labels.LABEL_MAX + 1)}).encode(),
    "number": b'{"case_label": 42}',
    "huge-number": b'{"case_label": ' + b"9" * 5000 + b"}",
    "infinity": b'{"case_label": 1e999}',
    "boolean": b'{"case_label": true}',
    "nested-object": b'{"case_label": {"text": "Sam"}}',
    "list": b'{"case_label": ["Sam"]}',
    "deep": b'{"case_label": ' + b"[" * 500 + b"]" * 500 + b"}",
    "bell": b'{"case_label": "Sam\\u0007"}',
    "newline-inside": b'{"case_label": "Sam\\nJones"}',
    "escape-sequence": b'{"case_label": "\\u001b[31mSam"}',
    "bidi-override": b'{"case_label": "Sam \\u202eenoJ"}',
    "c1-control": b'{"case_label": "Sam\\u0085Jones"}',
    "missing": b"{}",
    "unknown-field": b'{"case_label": "Sam", "label_enc": "AA=="}',
    "not-an-object": b'["Sam"]',
    "bare-string": b'"Sam"',
    "not-json": b"case_label=Sam",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_is_refused_and_changes_nothing(
    name: str, client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    url = f"/v1/staff/survivors/{survivor.id}/case-label"
    assert (
        client.put(url, json={"case_label": ORIGINAL}, headers=auth_header(token)).status_code
        == 200
    )
    db_session.expire_all()
    events_before = len(db_session.scalars(select(AuditEvent.id)).all())

    r = client.put(
        url,
        data=MALFORMED[name],
        content_type="text/plain" if name == "not-json" else "application/json",
        headers=auth_header(token),
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.content_type == PROBLEM_MIME
    shown = client.get(f"/v1/staff/survivors/{survivor.id}", headers=auth_header(token))
    assert shown.json["case_label"] == ORIGINAL
    db_session.expire_all()
    written = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("case_label.%"))
    ).all()
    assert sorted(written) == ["case_label.set", "case_label.write"]
    # Only the GET's read was audited since: the refused write left nothing behind.
    assert len(db_session.scalars(select(AuditEvent.id)).all()) == events_before + 1


@contextmanager
def counted_selects(connection: Connection) -> Iterator[list[str]]:
    """The SELECT statements run on ``connection`` inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def _labelled_caseload_of(size: int, db_session: Session, runtime: Runtime) -> StaffPrincipal:
    advocate, _ = make_staff(db_session, runtime)
    principal = StaffPrincipal(advocate.id, "advocate", new_id(), None)
    for i in range(size):
        survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
        if i % 5 != 4:  # some survivors have no label
            access = SurvivorAccess(survivor.id, "caseload", principal)
            case_labels.set_case_label(
                db_session, access, runtime.clock, runtime.vault, label=f"Case {i}"
            )
    db_session.flush()
    return principal


def test_the_caseload_page_reads_its_labels_in_a_bounded_number_of_queries(
    connection: Connection,
    session_factory: sessionmaker[Session],
    db_session: Session,
    runtime: Runtime,
) -> None:
    small = _labelled_caseload_of(1, db_session, runtime)
    page = _labelled_caseload_of(50, db_session, runtime)
    counts: list[tuple[int, int]] = []
    for staff, size in ((small, 1), (page, 50)):
        # A session of its own: no data key is cached yet, as in a fresh request.
        with session_factory() as fresh:
            ids = [e.survivor_id for e in caseload.my_caseload(fresh, staff)]
            assert len(ids) == size
            with counted_selects(connection) as batch:
                labels = case_labels.case_labels(fresh, staff, runtime.vault, survivor_ids=ids)
            assert len(labels) == (size * 4 + 4) // 5
        with session_factory() as fresh, counted_selects(connection) as page_selects:
            items = caseload.labelled_caseload(fresh, staff, runtime.vault)
        assert [i.case_label is not None for i in items].count(True) == len(labels)
        counts.append((len(batch), len(page_selects)))
    # One query for the labels, one for their survivors' data keys; the caseload page adds
    # the caseload itself. Fifty survivors cost what one does.
    assert counts == [(2, 3), (2, 3)]


# --- never to an agency, never to the survivor's app -------------------------------------------

CANARY = "Canary-Label-7f3a Jones"


@pytest.fixture
def world(db_session: Session, runtime: Runtime) -> World:
    return build_world(db_session, runtime)


def _label_s1(w: World) -> None:
    principal = StaffPrincipal(w.a1.id, "advocate", new_id(), None)
    access = SurvivorAccess(w.s1.id, "caseload", principal)
    case_labels.set_case_label(w.session, access, w.runtime.clock, w.runtime.vault, label=CANARY)


def _read_everything(app: Flask, client: JsonClient, w: World, prefix: str, who: str) -> int:
    """GET every route under ``prefix`` as ``who``, with ids of S1, A1 and P1's objects;
    fails if an answer carries the label; returns how many answered 200."""
    token = w.tokens[who]
    assert token is not None
    read = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix) or "GET" not in (rule.methods or set()):
            continue
        values = {name: PARAM_FACTORIES[name](w) for name in sorted(rule.arguments)}
        built = rule.build(values, append_unknown=False)
        assert built is not None
        r = client.get(built[1], headers=auth_header(token))
        assert r.status_code < 500, (who, rule.rule, r.status_code)
        assert CANARY.encode() not in r.data, (who, rule.rule)
        assert b"Canary" not in r.data, (who, rule.rule)
        assert b"case_label" not in r.data, (who, rule.rule)
        read += r.status_code == 200
    return read


def test_a_partner_key_reading_all_it_can_reads_no_label(
    app: Flask, client: JsonClient, world: World
) -> None:
    _label_s1(world)
    # S1 consented to P1 hearing of welfare checks, and one went out: P1 has something to read.
    coordination_matrix.delivery_id(world)
    coordination_matrix.share_id(world)
    staff_alert = client.post(
        f"/v1/staff/survivors/{world.s1.id}/alerts",
        json={"kind": "welfare_check"},
        headers=auth_header(world.tokens["A1"] or ""),
    )
    assert staff_alert.status_code == 201, staff_alert.json
    pulled = client.get("/v1/partner/alerts", headers=auth_header(world.tokens["P1"] or ""))
    assert len(pulled.json["items"]) >= 2
    assert _read_everything(app, client, world, "/v1/partner/", "P1") >= 2
    # What the webhooks send is exactly the sealed payloads: none carries the label.
    deps = wire(world.runtime).coordination
    world.session.expire_all()
    deliveries = world.session.scalars(select(Delivery)).all()
    assert len(deliveries) >= 2
    for delivery in deliveries:
        body = json.dumps(payload_of(world.session, deps, delivery))
        assert "Canary" not in body
        assert "case_label" not in body


def test_the_survivors_own_app_never_shows_the_label(
    app: Flask, client: JsonClient, world: World
) -> None:
    _label_s1(world)
    # Her advocate reads it with her record; her own app, real or decoy, reads it nowhere.
    a1 = auth_header(world.tokens["A1"] or "")
    assert client.get(f"/v1/staff/survivors/{world.s1.id}", headers=a1).json["case_label"] == CANARY
    assert _read_everything(app, client, world, "/v1/survivor/", "S1") >= 5
    assert _read_everything(app, client, world, "/v1/survivor/", "S1_DECOY") >= 5
    # Nor the staff routes, with her token: the access rule refuses her there.
    refused = client.get(
        f"/v1/staff/survivors/{world.s1.id}", headers=auth_header(world.tokens["S1"] or "")
    )
    assert refused.status_code == 403
