"""Every console page that names an object (a survivor, an escalation, a notice), reached by a
signed-in advocate for an object of another advocate's: a 404 page, and nothing changes.

The walk covers every console rule with a path parameter; a new page whose parameter is not
in ``OTHERS`` fails here until it says how to build someone else's object.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from auth.staff.models import StaffMember
from core.clock import FrozenClock
from core.notices import StaffNotice, notify_staff
from core.runtime import Runtime
from messaging.checkins import escalation
from safety_plans import plans
from safety_plans.deps import SafetyPlansDeps
from tests.auth.factories_staff import Staff
from tests.console.browser import Browser
from tests.console.record_worlds import consent_given
from tests.console.records import other_assessment, other_attachment
from tests.factories import make_staff, make_survivor

Factory = Callable[[Session, Runtime, StaffMember], uuid.UUID]


def _survivor(s: Session, rt: Runtime, other: StaffMember) -> uuid.UUID:
    return make_survivor(s, rt, other)[0].id


def _escalation(s: Session, rt: Runtime, other: StaffMember) -> uuid.UUID:
    esc = escalation.escalate(s, rt.clock, None, _survivor(s, rt, other), "help_reply")
    assert esc is not None
    return esc.id


def _notice(s: Session, rt: Runtime, other: StaffMember) -> uuid.UUID:
    notice: StaffNotice = notify_staff(s, rt.clock, [other.id], "duress", urgency="urgent")[0]
    return notice.id


def _consent(s: Session, rt: Runtime, other: StaffMember) -> uuid.UUID:
    return consent_given(s, rt, _survivor(s, rt, other)).id


def _plan_version(s: Session, rt: Runtime, other: StaffMember) -> uuid.UUID:
    # A real version of another advocate's survivor's plan, made as their app would make it.
    survivor_id = _survivor(s, rt, other)
    own = SurvivorAccess(survivor_id, "self", SurvivorPrincipal(survivor_id, uuid.uuid4(), False))
    return plans.get_plan(s, own, rt.clock, rt.collaborators.need(SafetyPlansDeps)).version.id


OTHERS: dict[str, Factory] = {
    "survivor_id": _survivor,
    "escalation_id": _escalation,
    "notice_id": _notice,
    "assessment_id": other_assessment,
    "attachment_id": other_attachment,
    "consent_id": _consent,
    "version_id": _plan_version,
}


def test_no_console_page_reaches_another_advocates_object(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
) -> None:
    other, _ = make_staff(db_session, runtime)
    rules = [
        r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.") and r.arguments
    ]
    unknown = sorted({a for r in rules for a in r.arguments} - set(OTHERS) - {"filename"})
    assert not unknown, f"console pages take {unknown}: add them to OTHERS"
    values = {name: make(db_session, runtime, other) for name, make in OTHERS.items()}
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    token = browser.csrf
    checked, wrong = 0, []
    for rule in rules:
        if "filename" in rule.arguments:
            continue  # static assets
        built = rule.build({a: values[a] for a in rule.arguments})
        assert built is not None
        url = built[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method == "GET":
                answer = browser.client.get(url)
            else:
                answer = browser.client.open(
                    url, method=method, data={"csrf_token": token, "note": "x"}
                )
            checked += 1
            if answer.status_code != 404:
                wrong.append(f"{method} {rule.rule} -> {answer.status_code}")
    assert checked >= 3
    assert not wrong, "\n".join(wrong)
