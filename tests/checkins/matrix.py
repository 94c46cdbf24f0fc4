"""Path-parameter factories and bodies for tests/test_permission_matrix.py (check-ins).

Each factory makes an object of survivor S1: a schedule and its occurrence (S1's own), and an
escalation that A1 (S1's advocate) may act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from core.audit import Actor
from messaging.checkins import arrangements, escalation
from messaging.checkins.models import CheckinSchedule
from messaging.checkins.occurrences import generate_for, pending
from tests.identities import World


def _schedule(w: World) -> CheckinSchedule:
    rt = w.runtime
    new = arrangements.NewSchedule(
        kind="one_off", channel="app", due_at=rt.clock.now() + dt.timedelta(hours=2)
    )
    schedule = arrangements.create_schedule(
        w.session, rt.clock, rt.vault, Actor("survivor", w.s1.id), w.s1.id, new
    )
    generate_for(w.session, rt.clock, rt.vault, schedule)
    return schedule


def schedule_id(w: World) -> str:
    return str(_schedule(w).id)


def occurrence_id(w: World) -> str:
    schedule = _schedule(w)
    occ = next(o for o in pending(w.session, w.s1.id) if o.schedule_id == schedule.id)
    return str(occ.id)


def escalation_id(w: World) -> str:
    esc = escalation.escalate(w.session, w.runtime.clock, None, w.s1.id, "missed")
    assert esc is not None  # S1 is a real account: a decoy's escalation is None
    return str(esc.id)


FACTORIES = {
    "schedule_id": schedule_id,
    "occurrence_id": occurrence_id,
    "escalation_id": escalation_id,
}

BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("POST", "/v1/survivor/check-ins/occurrences/<uuid:occurrence_id>/answer"): lambda w: {
        "answer": "safe"
    },
    ("POST", "/v1/survivor/check-ins/occurrences/<uuid:occurrence_id>/snooze"): lambda w: {
        "minutes": 10
    },
    ("POST", "/v1/staff/escalations/<uuid:escalation_id>/resolve"): lambda w: {"note": "Resolved."},
}
