"""Case labels written in parallel, on real connections: one label wins, nobody gets a 500.

A burst of PUTs for one survivor, each in its own thread, transaction and connection
(``committed_db``). On PostgreSQL a gate holds every request just before the service takes its
lock (``clean_label`` is its first step) until the whole burst is there, so they overlap for
certain: the first burst races to insert the survivor's first label, the second to replace or
clear it. On SQLite every transaction holds the one write lock from its first statement, so
the gate only counts arrivals; the same assertions hold.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from auth.access import case_labels
from auth.access.models import CaseLabel
from core.audit import AuditEvent
from tests.auth.deployment import BURST, Deployment
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient, JsonResponse

JOIN_SECONDS = 60.0


def _burst(d: Deployment, url: str, token: str, labels: list[str | None]) -> list[JsonResponse]:
    assert len(labels) == BURST
    answers: list[JsonResponse] = []
    lock = threading.Lock()

    def run(label: str | None) -> None:
        r = JsonClient(d.app).put(url, json={"case_label": label}, headers=auth_header(token))
        with lock:
            answers.append(r)

    d.gate.arm()
    threads = [threading.Thread(target=run, args=(label,)) for label in labels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
        assert not t.is_alive(), "a request of the burst never finished"
    d.gate.armed = False
    assert d.gate.arrived >= BURST
    return answers


def test_parallel_writes_keep_one_label(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployment
    with d.session() as s:
        advocate, token = make_staff(s, d.runtime)
        survivor, _ = make_survivor(s, d.runtime, advocate=advocate)
        s.commit()
        survivor_id = survivor.id
    url = f"/v1/staff/survivors/{survivor_id}/case-label"

    clean = case_labels.clean_label

    def gated(raw: str | None) -> str | None:
        d.gate.reach()
        return clean(raw)

    monkeypatch.setattr(case_labels, "clean_label", gated)

    rounds: list[list[str | None]] = [
        [f"First {i}" for i in range(BURST)],
        [None if i % 3 == 0 else f"Second {i}" for i in range(BURST)],
    ]
    for labels in rounds:
        d.gate.arrived = 0
        answers = _burst(d, url, token, labels)
        assert sorted(r.status_code for r in answers) == [200] * BURST, [
            (r.status_code, r.get_data(as_text=True)[:200]) for r in answers
        ]
        record = JsonClient(d.app).get(
            f"/v1/staff/survivors/{survivor_id}", headers=auth_header(token)
        )
        assert record.status_code == 200
        assert record.json["case_label"] in labels
        with d.session() as s:
            rows = s.scalars(select(CaseLabel).where(CaseLabel.survivor_id == survivor_id)).all()
            assert len(rows) == (0 if record.json["case_label"] is None else 1)
    with d.session() as s:
        written = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.in_(("case_label.set", "case_label.clear")))
        )
        assert written == 2 * BURST
