"""Path-parameter factories and bodies for tests/test_permission_matrix.py (check-ins).

Each factory makes an object of survivor S1: a schedule and its occurrence (S1's own), and an
escalation that A1 (S1's advocate) may act on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.audit import Actor
from messaging.checkins import arrangements, escalation
from messaging.checkins.occurrences import generate_for, pending


def _schedule(w: Any) -> Any:
    rt = w.runtime
    new = arrangements.NewSchedule(
        kind="one_off", channel="app", due_at=rt.clock.now() + dt.timedelta(hours=2)
    )
    schedule = arrangements.create_schedule(
        w.session, rt.clock, rt.vault, Actor("survivor", w.s1.id), w.s1.id, new
    )
    generate_for(w.session, rt.clock, rt.vault, schedule)
    return schedule


def schedule_id(w: Any) -> str:
    return str(_schedule(w).id)


def occurrence_id(w: Any) -> str:
    schedule = _schedule(w)
    occ = next(o for o in pending(w.session, w.s1.id) if o.schedule_id == schedule.id)
    return str(occ.id)


def escalation_id(w: Any) -> str:
    esc = escalation.escalate(w.session, w.runtime.clock, None, w.s1.id, "missed")
    return str(esc.id)


FACTORIES = {
    "schedule_id": schedule_id,
    "occurrence_id": occurrence_id,
    "escalation_id": escalation_id,
}

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/survivor/check-ins/occurrences/<uuid:occurrence_id>/answer"): lambda w: {
        "answer": "safe"
    },
    ("POST", "/v1/survivor/check-ins/occurrences/<uuid:occurrence_id>/snooze"): lambda w: {
        "minutes": 10
    },
    ("POST", "/v1/staff/escalations/<uuid:escalation_id>/resolve"): lambda w: {"note": "Resolved."},
}
