"""Path-parameter factories and bodies for tests/test_permission_matrix.py (safety_plans).

Each factory makes an object that belongs to survivor S1 of the matrix's world, reachable by
S1 and by A1 (S1's advocate): the plan and assessments are shared with the advocate by
default; the journal is not, so the journal factories switch S1's journal sharing on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.wiring import wire
from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from core.ids import new_id
from safety_plans import assessments, attachments, journal, plans, profile
from safety_plans.deps import SafetyPlansDeps
from safety_plans.entries import EntryIn
from safety_plans.sections import template
from tests.identities import World

JPEG = b"\xff\xd8\xff\xe0matrix"


def _s1(w: World) -> SurvivorAccess:
    return SurvivorAccess(w.s1.id, "self", SurvivorPrincipal(w.s1.id, new_id(), False))


def _share_journal(w: World) -> None:
    profile.profile_of(w.session, w.runtime.clock, w.s1.id).journal_shared = True
    w.session.flush()


def _deps(w: World) -> SafetyPlansDeps:
    # The matrix's runtime is the app's, wired when the app was created.
    return wire(w.runtime).safety_plans


def version_id(w: World) -> str:
    return str(plans.get_plan(w.session, _s1(w), w.runtime.clock, _deps(w)).version.id)


def assessment_id(w: World) -> str:
    answers = {f"q{i}": "no" for i in range(1, 25)}
    view = assessments.take(
        w.session, _s1(w), w.runtime.clock, _deps(w), instrument_id="dash", answers=answers
    )
    return str(view.id)


def entry_id(w: World) -> str:
    _share_journal(w)
    body: EntryIn = {"occurred_text": "matrix", "kinds": ["stalking"], "description": "matrix"}
    return str(journal.create_entry(w.session, _s1(w), w.runtime.clock, _deps(w), entry=body).id)


def attachment_id(w: World) -> str:
    _share_journal(w)
    info = attachments.upload(w.session, _s1(w), w.runtime.clock, _deps(w), data=JPEG)
    body: EntryIn = {
        "occurred_text": "matrix",
        "kinds": ["stalking"],
        "description": "matrix",
        "attachment_ids": [info.id],
    }
    journal.create_entry(w.session, _s1(w), w.runtime.clock, _deps(w), entry=body)
    return str(info.id)


def instrument_id(_w: World) -> str:
    return "dash"


FACTORIES = {
    "version_id": version_id,
    "assessment_id": assessment_id,
    "entry_id": entry_id,
    "attachment_id": attachment_id,
    "instrument_id": instrument_id,
}

STAFF = "/v1/staff/survivors/<uuid:survivor_id>"
BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("PUT", STAFF + "/safety-plan"): lambda w: {"sections": template()},
    ("POST", STAFF + "/assessments"): lambda w: {
        "instrument_id": "dash",
        "answers": {f"q{i}": "no" for i in range(1, 25)},
    },
    ("POST", STAFF + "/safety-plan/recommendations"): lambda w: {
        "recommendation_ids": ["safety-call-999"]
    },
}

# Reference data: every signed-in survivor or fully enrolled staff member may read instruments;
# partner keys, unenrolled staff and anonymous callers may not.
INSTRUMENT_READERS = ("S1", "S2", "A1", "A2", "SUP", "ADM")
