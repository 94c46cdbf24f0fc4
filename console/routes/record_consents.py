"""The Consents tab: which agencies the survivor agreed may hear what; a consent given in person
(recorded by the advocate, in force once the survivor confirms it in the app); a withdrawal on
the survivor's word, at once.

The same services and actions as ``/v1/staff/survivors/{id}/consents`` (``consent.list``,
``consent.record``, ``consent.revoke``). A refused form is rolled back as the API rolls back its
422, and comes back holding what was typed, without the list: what was not audited as a read is
not shown.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Response, redirect, url_for
from wtforms import SelectChoice

from auth.access.permissions import CASEWORKER, SurvivorAccess
from console.forms_consents import ConsentForm, RevokeConsentForm
from console.pages import bp, me, survivor_access
from console.record import TABS, Tab, render_tab
from coordination import consents as consent_service
from coordination.consent_terms import DEFAULT_DURATION, MAX_DURATION, MIN_DURATION
from coordination.deps import CoordinationDeps
from coordination.vocab import CONSENT_KIND_TEXT
from core.errors import InvalidInput
from web import problems
from web.access import allow
from web.db import runtime, session

TAB = "console.consents"
TABS.append(Tab(TAB, "Consents"))

STATE_TEXT = {
    "pending_confirmation": "waiting for the survivor to confirm it in the app",
    "active": "in force",
    "not_started": "not started yet",
    "expired": "ended",
    "revoked": "withdrawn",
}
GIVEN_TEXT = {"app": "given in the app", "advocate_recorded": "given in person, recorded by staff"}
# What can still be withdrawn: anything that is, or may yet be, in force.
OPEN = frozenset({"pending_confirmation", "active", "not_started"})
NOT_ACCEPTED = "The consent was not recorded: check what is marked below."


def _deps() -> CoordinationDeps:
    return runtime().collaborators.need(CoordinationDeps)


def _form(access: SurvivorAccess, *, formdata: bool) -> ConsentForm:
    """The form, offering the agencies the survivor may choose from (as the app offers them)."""
    today = runtime().clock.now().date()
    if formdata:
        form = ConsentForm()
    else:
        form = ConsentForm(formdata=None, ends_on=today + DEFAULT_DURATION)
    agencies = consent_service.agencies_for(session(), access)
    form.agency_id.choices = [SelectChoice(str(a.id), a.name) for a in agencies]
    return form


def _tab(survivor_id: uuid.UUID, *, status: int = 200, **context: Any) -> Response:
    today = runtime().clock.now().date()
    return render_tab(
        "record_consents.html",
        survivor_id,
        TAB,
        status=status,
        principal=me(),
        kind_text=CONSENT_KIND_TEXT,
        state_text=STATE_TEXT,
        given_text=GIVEN_TEXT,
        open_states=OPEN,
        first_day=today + MIN_DURATION,
        last_day=today + MAX_DURATION,
        **context,
    )


def _back(survivor_id: uuid.UUID) -> Response:
    return redirect(url_for(TAB, survivor_id=survivor_id), code=303)  # type: ignore[return-value]


@bp.get("/survivors/<uuid:survivor_id>/consents")
@allow(CASEWORKER)
def consents(survivor_id: uuid.UUID) -> Response:
    access = survivor_access(survivor_id, "consent.list")
    s, clock, deps = session(), runtime().clock, _deps()
    items = [consent_service.view(s, clock, deps, c) for c in consent_service.list_for(s, access)]
    return _tab(
        survivor_id,
        items=items,
        form=_form(access, formdata=False),
        read_only=access.via == "break_glass",
    )


def _refused(survivor_id: uuid.UUID, form: ConsentForm, error: InvalidInput) -> Response:
    problems.handle_lantern_error(error)  # nothing stays written, as on /v1
    return _tab(survivor_id, form=form, failed=error.detail, refused=True, status=error.status)


@bp.post("/survivors/<uuid:survivor_id>/consents")
@allow(CASEWORKER)
def consents_record(survivor_id: uuid.UUID) -> Response:
    access = survivor_access(survivor_id, "consent.record", write=True)
    form = _form(access, formdata=True)
    if not form.validate() or form.ends_on.data is None:
        return _refused(survivor_id, form, InvalidInput(NOT_ACCEPTED))
    clock = runtime().clock
    # Until the same time of day on the chosen date: 90 days from now is exactly the API's
    # default, and a year from today is still within the year a consent may last.
    expires_at = dt.datetime.combine(form.ends_on.data, clock.now().timetz())
    try:
        consent_service.record_for_survivor(
            session(),
            access,
            clock,
            _deps(),
            agency_id=uuid.UUID(form.agency_id.data),
            kinds=list(form.kinds.data or []),
            purpose=form.purpose.data or "",
            expires_at=expires_at,
        )
    except InvalidInput as error:
        return _refused(survivor_id, form, error)
    return _back(survivor_id)


@bp.post("/survivors/<uuid:survivor_id>/consents/<uuid:consent_id>/revoke")
@allow(CASEWORKER)
def consents_revoke(survivor_id: uuid.UUID, consent_id: uuid.UUID) -> Response:
    access = survivor_access(survivor_id, "consent.revoke", write=True)
    if not RevokeConsentForm().validate():
        raise InvalidInput(
            "Nothing was withdrawn: tick “The survivor asked to withdraw this consent” first."
        )
    consent_service.revoke(session(), access, runtime().clock, consent_id=consent_id)
    return _back(survivor_id)
