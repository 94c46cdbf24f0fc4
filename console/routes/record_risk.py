"""The record's Risk tab: take the DASH checklist or the Lethality Screen with the survivor, the
history of assessments (each opened to its answers), and MARAC eligibility.

The same services as the API's staff risk endpoints (``safety_plans.routes.risk``), under the
same action names; the instruments are data (``safety_plans/instruments/*.json``), so the form
is drawn from the instrument's items and answer types. Assessments are seen and taken only
while the survivor shares her plan with staff: the tab says so plainly when she does not.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, redirect, request, url_for

from auth.access.permissions import CASEWORKER, SurvivorAccess
from console.forms_risk import ANSWER_PREFIX, AssessmentForm, field_errors, read_answers
from console.pages import bp, me, survivor_access
from console.record import TABS, Tab, render_tab
from core.errors import InvalidInput, NotFound
from safety_plans import assessments, profile
from safety_plans.assessments import AssessmentView
from safety_plans.deps import SafetyPlansDeps
from safety_plans.instruments import Instrument
from web import problems
from web.access import allow
from web.db import runtime, session

TAB = "console.risk"
TABS.append(Tab(TAB, "Risk"))

# The API's action names (safety_plans.routes.risk), so the survivor's access log reads the same.
READ, WRITE = "risk_assessment.read", "risk_assessment.write"

# Short names for the built-in instruments in tables and headings; an instrument added as data
# (LANTERN_EXTRA_INSTRUMENTS_PATH) is shown by its own title.
SHORT_NAMES = {"dash": "DASH risk checklist", "lethality_screen": "Lethality Screen"}
ANSWER_WORDS = {"yes": "Yes", "no": "No", "unknown": "Don't know"}
CHOICES = {"yes_no": ("yes", "no"), "yes_no_unknown": ("yes", "no", "unknown")}


def _deps() -> SafetyPlansDeps:
    return runtime().collaborators.need(SafetyPlansDeps)


def instrument_name(instrument: Instrument | None, instrument_id: str) -> str:
    if instrument_id in SHORT_NAMES:
        return SHORT_NAMES[instrument_id]
    return str(instrument.spec["title"]) if instrument is not None else instrument_id


def band_name(band: str) -> str:
    return band.replace("_", " ").capitalize()


def answer_words(answer: Any) -> str:
    if answer is None:
        return "Not answered"
    return ANSWER_WORDS.get(str(answer), str(answer))


def _helpers() -> dict[str, Any]:
    catalogue = _deps().catalogue
    return {
        "catalogue": catalogue,
        "instrument_name": lambda i: instrument_name(catalogue.get(i), i),
        "band_name": band_name,
        "answer_words": answer_words,
        "choices": CHOICES,
        "answer_prefix": ANSWER_PREFIX,
    }


def _read_only(access: SurvivorAccess) -> bool:
    # A supervisor's break-glass grant reads, never writes (``require_survivor_access``).
    return access.via == "break_glass"


def _shared(access: SurvivorAccess) -> bool:
    rt = runtime()
    return profile.get_sharing(session(), access, rt.clock).plan_shared


class _Unshared(Exception):
    def __init__(self, access: SurvivorAccess) -> None:
        super().__init__("not shared")
        self.access = access


def _reach_shared(
    survivor_id: uuid.UUID, *, assessment_id: uuid.UUID | None = None
) -> tuple[SurvivorAccess, bool]:
    """The record reached for a read, and whether she shares her assessments. While she does
    not, nothing of them is shown, so the read's access record is rolled back with its
    savepoint, as ``/v1``'s 404 rolls it back: her access log never says they were read."""
    try:
        with session().begin_nested():
            access = survivor_access(
                survivor_id,
                READ,
                subject_kind="risk_assessment" if assessment_id else None,
                subject_id=assessment_id,
            )
            if not _shared(access):
                raise _Unshared(access)
            return access, True
    except _Unshared as unshared:
        return unshared.access, False


@bp.get("/survivors/<uuid:survivor_id>/risk")
@allow(CASEWORKER)
def risk(survivor_id: uuid.UUID) -> Response:
    access, shared = _reach_shared(survivor_id)
    s, clock = session(), runtime().clock
    context: dict[str, Any] = {"shared": shared, "read_only": _read_only(access)}
    if context["shared"]:
        context["history"] = assessments.list_assessments(s, access, clock, _deps())
        context["marac"] = assessments.marac_status(s, access, clock)
    return render_tab("risk.html", survivor_id, TAB, principal=me(), **context, **_helpers())


def _instrument(instrument_id: str | None) -> Instrument:
    return assessments.instrument_of(_deps().catalogue, instrument_id or "")


def _form_page(
    survivor_id: uuid.UUID,
    access: SurvivorAccess,
    instrument: Instrument,
    form: AssessmentForm,
    *,
    answers: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> Response:
    return render_tab(
        "risk_take.html",
        survivor_id,
        TAB,
        status=status,
        principal=me(),
        shared=_shared(access),
        read_only=_read_only(access),
        instrument=instrument,
        form=form,
        answers=answers or {},
        errors=errors or {},
        **_helpers(),
    )


@bp.get("/survivors/<uuid:survivor_id>/risk/new")
@allow(CASEWORKER)
def risk_new(survivor_id: uuid.UUID) -> Response:
    """The form for one instrument (``?instrument=dash``: an id from the catalogue, nothing
    of the survivor's)."""
    access = survivor_access(survivor_id, READ)
    instrument = _instrument(request.args.get("instrument"))
    form = AssessmentForm(formdata=None, instrument_id=instrument.id)
    return _form_page(survivor_id, access, instrument, form)


@bp.post("/survivors/<uuid:survivor_id>/risk/assessments")
@allow(CASEWORKER)
def risk_take(survivor_id: uuid.UUID) -> Response:
    access = survivor_access(survivor_id, WRITE, write=True)
    form = AssessmentForm()
    instrument = _instrument(form.instrument_id.data)
    if not _shared(access):
        # The service would refuse it as the API does (404); the page says why, plainly.
        problems.handle_lantern_error(NotFound())
        return _form_page(survivor_id, access, instrument, form, status=404)
    posted = {
        k.removeprefix(ANSWER_PREFIX): v for k, v in request.form.items() if k != "csrf_token"
    }
    try:
        if not form.validate():
            raise InvalidInput(
                "the form is not valid", errors={k: list(v) for k, v in form.errors.items()}
            )
        view: AssessmentView = assessments.take(
            session(),
            access,
            runtime().clock,
            _deps(),
            instrument_id=instrument.id,
            answers=read_answers(request.form, [field.name for field in form]),
            professional_judgement=form.professional_judgement.data or None,
            notes=form.notes.data or None,
        )
    except InvalidInput as error:
        # The form again, with what was chosen and what to fix; nothing is kept (the unit of
        # work rolls back as for the API's 422).
        problems.handle_lantern_error(error)
        return _form_page(
            survivor_id,
            access,
            instrument,
            form,
            answers=posted,
            errors=field_errors(error),
            status=error.status,
        )
    return redirect(  # type: ignore[return-value]
        url_for("console.risk_assessment", survivor_id=survivor_id, assessment_id=view.id),
        code=303,
    )


@bp.get("/survivors/<uuid:survivor_id>/risk/assessments/<uuid:assessment_id>")
@allow(CASEWORKER)
def risk_assessment(survivor_id: uuid.UUID, assessment_id: uuid.UUID) -> Response:
    access, shared = _reach_shared(survivor_id, assessment_id=assessment_id)
    s, clock = session(), runtime().clock
    if not shared:
        helpers = _helpers()
        return render_tab("risk.html", survivor_id, TAB, principal=me(), shared=False, **helpers)
    view = assessments.get_assessment(s, access, clock, _deps(), assessment_id=assessment_id)
    marac = assessments.marac_status(s, access, clock)
    return render_tab(
        "risk_assessment.html",
        survivor_id,
        TAB,
        principal=me(),
        assessment=view,
        instrument=_deps().catalogue.get(view.instrument_id),
        marac=marac,
        **_helpers(),
    )
