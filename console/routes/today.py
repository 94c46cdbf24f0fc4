"""Today: my escalation queue (refreshed in place), urgent notices, unread counts, on duty.

The queue is also served alone (``today_queue``) for the page's script, which asks for it every
few seconds as a passive request: polling does not keep an unattended console signed in.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, redirect, url_for

from auth.access.permissions import CASEWORKER
from auth.staff import notices, phone, sessions
from console.forms import DutyForm, PlainForm, ResolveForm
from console.pages import bp, me, render, survivor_access
from console.survivors import labels_for
from core.errors import InvalidInput
from messaging import service as messages
from messaging.checkins import service as checkins
from messaging.checkins.deps import CheckinDeps
from web.access import allow
from web.db import runtime, session

URGENT = frozenset({"urgent", "high"})


def _deps() -> CheckinDeps:
    return runtime().collaborators.need(CheckinDeps)


def _queue_context() -> dict[str, Any]:
    s, principal = session(), me()
    queue = checkins.escalation_queue(s, principal, _deps(), include_resolved=False)
    unread = messages.staff_unread(s, principal, runtime().clock)
    ids = {e.survivor_id for e in queue} | {u.survivor_id for u in unread.items}
    return {
        "queue": queue,
        "unread": [u for u in unread.items if u.unread],
        "labels": labels_for(s, principal, runtime().vault, ids),
        "resolve_form": ResolveForm(formdata=None),
        "plain_form": PlainForm(formdata=None),
    }


@bp.get("/today")
@allow(CASEWORKER)
def today() -> Response:
    principal = me()
    s = session()
    # Only the urgent ones are asked for: the newest twenty of every urgency, filtered here,
    # let twenty lesser notices (texts from a shared phone, phone changes) push one off.
    urgent, _next = notices.list_notices(s, principal, unread_only=True, urgencies=URGENT, limit=20)
    member = sessions.whoami(s, principal)[0]
    return render(
        "today.html",
        principal=principal,
        notices=urgent,
        duty_form=DutyForm(formdata=None, on_duty=bool(member and member.on_duty)),
        on_duty=bool(member and member.on_duty),
        **_queue_context(),
    )


@bp.get("/today/queue")
@allow(CASEWORKER)
def today_queue() -> Response:
    return render("_queue.html", **_queue_context())


def _escalation(escalation_id: uuid.UUID, action: str) -> Any:
    survivor_id = checkins.escalation_survivor(session(), escalation_id)
    return survivor_access(
        survivor_id, action, write=True, subject_kind="escalation", subject_id=escalation_id
    )


def _back() -> Response:
    return redirect(url_for("console.today"), code=303)  # type: ignore[return-value]


@bp.post("/escalations/<uuid:escalation_id>/acknowledge")
@allow(CASEWORKER)
def acknowledge(escalation_id: uuid.UUID) -> Response:
    access = _escalation(escalation_id, "escalation.acknowledge")
    checkins.acknowledge(session(), access, runtime().clock, _deps(), escalation_id=escalation_id)
    return _back()


@bp.post("/escalations/<uuid:escalation_id>/resolve")
@allow(CASEWORKER)
def resolve(escalation_id: uuid.UUID) -> Response:
    form = ResolveForm()
    if not form.validate_on_submit():
        raise InvalidInput("Write a note of what was done (at most 4000 characters).")
    access = _escalation(escalation_id, "escalation.resolve")
    checkins.resolve(
        session(),
        access,
        runtime().clock,
        _deps(),
        escalation_id=escalation_id,
        note=form.note.data or "",
    )
    return _back()


@bp.post("/notices/<uuid:notice_id>/read")
@allow(CASEWORKER)
def notice_read(notice_id: uuid.UUID) -> Response:
    notices.mark_read(session(), runtime().clock, me(), notice_id)
    return _back()


@bp.post("/duty")
@allow(CASEWORKER)
def duty() -> Response:
    form = DutyForm()
    rt = runtime()
    phone.set_duty(
        session(),
        rt.clock,
        rt.keyring,
        me(),
        phone=None,
        clear_phone=False,
        on_duty=bool(form.on_duty.data),
    )
    return _back()
