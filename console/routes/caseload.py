"""Caseload: every survivor on my caseload with their case label, latest risk band, open
escalations, unread messages and last check-in; a search by case label.

The search is posted, not put in the URL: a case label is survivor content.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

from flask import Response, redirect, request

from auth.access import caseload
from auth.access.case_labels import set_case_label
from auth.access.permissions import CASEWORKER
from console.forms import CaseLabelForm, CaseloadSearchForm
from console.pages import bp, me, render, survivor_access
from console.survivors import labels_for
from core.errors import InvalidInput
from messaging import service as messages
from messaging.checkins import service as checkins
from messaging.checkins.caseload import LastCheckin, last_checkins
from messaging.checkins.deps import CheckinDeps
from safety_plans.caseload_risk import caseload_bands
from safety_plans.deps import SafetyPlansDeps
from web.access import allow
from web.db import runtime, session


@dataclass(frozen=True, slots=True)
class CaseRow:
    survivor_id: uuid.UUID
    label: str
    band: str | None
    open_escalations: int
    unread: int
    last_checkin: LastCheckin | None


def _rows() -> list[CaseRow]:
    s, rt, principal = session(), runtime(), me()
    ids = [entry.survivor_id for entry in caseload.my_caseload(s, principal)]
    labels = labels_for(s, principal, rt.vault, ids)
    bands = caseload_bands(s, principal, rt.collaborators.need(SafetyPlansDeps), survivor_ids=ids)
    queue = checkins.escalation_queue(
        s, principal, rt.collaborators.need(CheckinDeps), include_resolved=False
    )
    open_counts = Counter(e.survivor_id for e in queue)
    unread = {u.survivor_id: u.unread for u in messages.staff_unread(s, principal, rt.clock).items}
    last = last_checkins(s, principal, rt.clock, survivor_ids=ids)
    rows = [
        CaseRow(
            survivor_id=sid,
            label=labels[sid],
            band=bands.get(sid),
            open_escalations=open_counts[sid],
            unread=unread.get(sid, 0),
            last_checkin=last.get(sid),
        )
        for sid in ids
    ]
    # Whoever needs attention first: open escalations, then unread messages, then by label.
    return sorted(rows, key=lambda r: (-r.open_escalations, -r.unread, r.label.casefold()))


@bp.route("/caseload", methods=["GET", "POST"])
@allow(CASEWORKER)
def caseload_page() -> Response:
    form = CaseloadSearchForm()
    rows = _rows()
    query = ""
    if request.method == "POST" and form.validate_on_submit():
        query = (form.q.data or "").strip()
        rows = [r for r in rows if query.casefold() in r.label.casefold()]
    return render(
        "caseload.html", principal=me(), rows=rows, form=form, query=query, active="caseload"
    )


@bp.post("/survivors/<uuid:survivor_id>/case-label")
@allow(CASEWORKER)
def case_label(survivor_id: uuid.UUID) -> Response:
    """Name the case (or clear the name): the API's service, with the API's write access."""
    form = CaseLabelForm()
    if not form.validate_on_submit():
        raise InvalidInput("A case label is at most 80 characters.")
    access = survivor_access(survivor_id, "case_label.write", write=True)
    rt = runtime()
    set_case_label(session(), access, rt.clock, rt.vault, label=form.case_label.data or None)
    # Back to the record, whose header shows the new name.
    return redirect(f"{request.script_root}/console/survivors/{survivor_id}", code=303)  # type: ignore[return-value]
