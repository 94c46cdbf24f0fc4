"""The survivor record's safety plan tab: read the plan, co-edit it with If-Match, merge after a
conflicting save, add a recommendation. Versions, one version, diffs and restore are in
``record_plan_versions``.

Every view reaches the record with the API's own action (``safety_plan.read`` or ``.write``,
as ``safety_plans.routes.plan`` does) and calls the API's services. Each check and the service
call it admits run in a savepoint: a refused call (a stale ETag, the plan not shared, over a
limit) leaves nothing behind, not even its access record, exactly as the API's rolled-back
answer would; the page then goes on to show the advocate what happened, their text intact.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import Response, redirect, request, url_for
from marshmallow import ValidationError

from auth.access.permissions import CASEWORKER, SurvivorAccess
from console.forms_plan import (
    AdoptForm,
    PlanForm,
    form_errors,
    plan_form,
    sections_of,
)
from console.pages import bp, survivor_access
from console.plan_compare import TITLES, merge
from console.record import TABS, Tab, render_tab
from core.errors import InvalidInput, NotFound, PreconditionFailed, TooLarge, TooManyRequests
from safety_plans import plans, recommendations
from safety_plans.deps import SafetyPlansDeps
from safety_plans.etags import version_id_of
from safety_plans.plans import PlanView
from safety_plans.profile import NotShared
from safety_plans.schemas import PlanWriteSchema
from safety_plans.sections import Sections
from web.access import allow
from web.db import runtime, session

# The plan is the record's first tab, whichever tab module is imported first.
TABS.insert(0, Tab("console.plan", "Safety plan"))

READ, WRITE = "safety_plan.read", "safety_plan.write"
TAB = "console.plan"
VERSION = "safety_plan_version"
# What ``?note=`` may say after a redirect (a code, never content).
NOTES = {
    "saved": "The plan is saved.",
    "restored": "The version is restored: it is now the current plan.",
    "added": "The item is added to the plan.",
}

T = TypeVar("T")


def deps() -> SafetyPlansDeps:
    return runtime().collaborators.need(SafetyPlansDeps)


def reach(
    survivor_id: uuid.UUID,
    action: str,
    call: Callable[[SurvivorAccess], T],
    *,
    write: bool = False,
    version_id: uuid.UUID | None = None,
) -> T:
    """The record check (the API's, with its action) and one service call, in a savepoint."""
    with session().begin_nested():
        access = survivor_access(
            survivor_id,
            action,
            write=write,
            subject_kind=VERSION if version_id else None,
            subject_id=version_id,
        )
        return call(access)


def read_plan(survivor_id: uuid.UUID) -> tuple[SurvivorAccess, PlanView]:
    s, clock = session(), runtime().clock
    return reach(survivor_id, READ, lambda a: (a, plans.get_plan(s, a, clock, deps())))


def read_only(access: SurvivorAccess) -> bool:
    """Break-glass is read-only: its pages offer no form that writes."""
    return access.via == "break_glass"


def refused(survivor_id: uuid.UUID, reason: str) -> Response:
    """Why the plan cannot be shown (``not_shared``) or changed (``read_only``)."""
    return render_tab("plan_refused.html", survivor_id, TAB, status=403, reason=reason)


def shared_only(view: Callable[..., Response]) -> Callable[..., Response]:
    """The service's refusal while the survivor keeps the plan to themselves, as a page."""

    @functools.wraps(view)
    def wrapper(survivor_id: uuid.UUID, **kwargs: object) -> Response:
        try:
            return view(survivor_id, **kwargs)
        except NotShared as refusal:
            if refusal.journal:
                raise
            return refused(survivor_id, "not_shared")

    return wrapper


def back_to_plan(survivor_id: uuid.UUID, note: str) -> Response:
    return redirect(url_for(TAB, survivor_id=survivor_id, note=note), code=303)  # type: ignore[return-value]


@bp.get("/survivors/<uuid:survivor_id>")
@allow(CASEWORKER)
def record(survivor_id: uuid.UUID) -> Response:
    """The record opens on its first tab, the safety plan."""
    survivor_access(survivor_id, "survivor.read")
    return redirect(url_for(TAB, survivor_id=survivor_id), code=303)  # type: ignore[return-value]


def plan_page(survivor_id: uuid.UUID, *, status: int = 200, stale: bool = False) -> Response:
    s, clock = session(), runtime().clock

    def both(a: SurvivorAccess) -> tuple[SurvivorAccess, PlanView, recommendations.Tailored]:
        return a, plans.get_plan(s, a, clock, deps()), recommendations.tailored(s, a, clock, deps())

    access, view, tailored = reach(survivor_id, READ, both)
    return render_tab(
        "plan.html",
        survivor_id,
        TAB,
        status=status,
        view=view,
        titles=TITLES,
        tailored=tailored,
        read_only=read_only(access),
        adopt_form=AdoptForm(formdata=None, etag=view.etag),
        note=NOTES.get(request.args.get("note", "")),
        stale=stale,
    )


@bp.get("/survivors/<uuid:survivor_id>/plan")
@allow(CASEWORKER)
@shared_only
def plan(survivor_id: uuid.UUID) -> Response:
    return plan_page(survivor_id)


def edit_page(
    survivor_id: uuid.UUID, form: PlanForm, *, status: int = 200, problems: list[str] | None = None
) -> Response:
    return render_tab(
        "plan_edit.html",
        survivor_id,
        TAB,
        status=status,
        form=form,
        titles=TITLES,
        problems=problems or [],
    )


@bp.get("/survivors/<uuid:survivor_id>/plan/edit")
@allow(CASEWORKER)
@shared_only
def plan_edit(survivor_id: uuid.UUID) -> Response:
    access, view = read_plan(survivor_id)
    if read_only(access):
        return refused(survivor_id, "read_only")
    return edit_page(survivor_id, plan_form(view.etag, view.sections), problems=[])


def _base(survivor_id: uuid.UUID, etag: str) -> Sections | None:
    """The version the advocate's form was filled from, when the form names one of this plan."""
    version_id = version_id_of(etag)
    if version_id is None:
        return None
    s, clock = session(), runtime().clock
    try:
        return reach(
            survivor_id,
            READ,
            lambda a: plans.get_version(s, a, clock, deps(), version_id=version_id).sections,
            version_id=version_id,
        )
    except NotFound as missing:
        if isinstance(missing, NotShared):
            raise
        return None


def merge_page(survivor_id: uuid.UUID, etag: str, mine: Sections) -> Response:
    """Someone saved since the form was filled: theirs beside the advocate's, to merge."""
    base = _base(survivor_id, etag)
    _access, current = read_plan(survivor_id)
    filled, sections = merge(base, mine, current.sections)
    return render_tab(
        "plan_merge.html",
        survivor_id,
        TAB,
        status=409,
        form=plan_form(current.etag, filled),
        sections=sections,
        current=current,
        titles=TITLES,
    )


class _Invalid(Exception):
    """The form is refused before the service is called: show it again with its problems."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid plan form")
        self.problems = problems


@bp.post("/survivors/<uuid:survivor_id>/plan/edit")
@allow(CASEWORKER)
@shared_only
def plan_save(survivor_id: uuid.UUID) -> Response:
    form = PlanForm()
    s, clock = session(), runtime().clock

    def save(access: SurvivorAccess) -> Sections:
        if not form.validate():
            raise _Invalid(form_errors(form))
        mine = sections_of(form)
        try:
            PlanWriteSchema().load({"sections": mine})  # what /v1 refuses, a page refuses
        except ValidationError:
            raise _Invalid(["Something in the plan cannot be saved; check each item."]) from None
        plans.save_plan(s, access, clock, deps(), if_match=form.etag.data, sections=mine)
        return mine

    try:
        reach(survivor_id, WRITE, save, write=True)
    except _Invalid as invalid:
        return edit_page(survivor_id, form, status=422, problems=invalid.problems)
    except PreconditionFailed:
        return merge_page(survivor_id, form.etag.data or "", sections_of(form))
    except (TooLarge, TooManyRequests) as limited:
        page = edit_page(survivor_id, form, status=limited.status, problems=[limited.detail])
        page.headers.update(limited.headers)
        return page
    return back_to_plan(survivor_id, "saved")


@bp.post("/survivors/<uuid:survivor_id>/plan/recommendations")
@allow(CASEWORKER)
@shared_only
def plan_adopt(survivor_id: uuid.UUID) -> Response:
    """Add one recommendation, as ``POST .../safety-plan/recommendations`` does."""
    form = AdoptForm()
    s, clock = session(), runtime().clock

    def adopt(access: SurvivorAccess) -> None:
        if not form.validate():
            raise InvalidInput("Choose a recommendation from the plan page.")
        recommendations.adopt(
            s,
            access,
            clock,
            deps(),
            if_match=form.etag.data,
            recommendation_ids=[form.recommendation_id.data or ""],
        )

    try:
        reach(survivor_id, WRITE, adopt, write=True)
    except PreconditionFailed:
        return plan_page(survivor_id, status=409, stale=True)
    return back_to_plan(survivor_id, "added")
