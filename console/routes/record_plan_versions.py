"""The safety plan's history in the console: every version (who and when), one version, the
changes between any two, and restoring an old one as the API's restore does (a new version,
If-Match the current ETag). Addresses carry version ids only, never content.
"""

from __future__ import annotations

import uuid

from flask import Response, request

from auth.access.permissions import CASEWORKER, SurvivorAccess
from console.forms_plan import DiffForm, EtagForm
from console.pages import bp
from console.plan_compare import TITLES, compare
from console.record import render_tab
from console.routes.record_plan import (
    READ,
    TAB,
    WRITE,
    back_to_plan,
    deps,
    reach,
    read_only,
    shared_only,
)
from core.errors import BadRequest, InvalidInput, PreconditionFailed
from safety_plans import plans
from safety_plans.etags import etag_for
from safety_plans.plans import PlanView, VersionInfo
from web.access import allow
from web.db import runtime, session

AUTHORS = {"system": "Template", "survivor": "Survivor", "advocate": "Advocate"}


def describe(version: VersionInfo) -> str:
    """A version as a chooser shows it: number, when, by whom (no content)."""
    when = version.created_at.strftime("%d %b %Y %H:%M")
    return f"Version {version.number}, {when} UTC, {AUTHORS.get(version.author, version.author)}"


def _history(survivor_id: uuid.UUID) -> tuple[SurvivorAccess, list[VersionInfo]]:
    s, clock = session(), runtime().clock
    return reach(survivor_id, READ, lambda a: (a, plans.list_versions(s, a, clock, deps())))


def _version(survivor_id: uuid.UUID, version_id: uuid.UUID) -> PlanView:
    s, clock = session(), runtime().clock
    return reach(
        survivor_id,
        READ,
        lambda a: plans.get_version(s, a, clock, deps(), version_id=version_id),
        version_id=version_id,
    )


def diff_form(versions: list[VersionInfo], formdata: object = None) -> DiffForm:
    form = DiffForm(formdata=formdata)
    choices = [(str(v.id), describe(v)) for v in versions]
    form.old.choices = choices
    form.new.choices = choices
    if formdata is None and versions:
        form.new.data = str(versions[0].id)
        form.old.data = str(versions[1 if len(versions) > 1 else 0].id)
    return form


def versions_page(survivor_id: uuid.UUID, *, status: int = 200, stale: bool = False) -> Response:
    access, versions = _history(survivor_id)
    return render_tab(
        "plan_versions.html",
        survivor_id,
        TAB,
        status=status,
        versions=versions,
        authors=AUTHORS,
        diff_form=diff_form(versions),
        restore_form=EtagForm(formdata=None, etag=etag_for(versions[0].id)),
        read_only=read_only(access),
        stale=stale,
    )


@bp.get("/survivors/<uuid:survivor_id>/plan/versions")
@allow(CASEWORKER)
@shared_only
def plan_versions(survivor_id: uuid.UUID) -> Response:
    return versions_page(survivor_id)


@bp.get("/survivors/<uuid:survivor_id>/plan/versions/<uuid:version_id>")
@allow(CASEWORKER)
@shared_only
def plan_version(survivor_id: uuid.UUID, version_id: uuid.UUID) -> Response:
    s, clock = session(), runtime().clock

    def read(a: SurvivorAccess) -> tuple[SurvivorAccess, PlanView, list[VersionInfo]]:
        view = plans.get_version(s, a, clock, deps(), version_id=version_id)
        return a, view, plans.list_versions(s, a, clock, deps())

    access, view, versions = reach(survivor_id, READ, read, version_id=version_id)
    return render_tab(
        "plan_version.html",
        survivor_id,
        TAB,
        view=view,
        titles=TITLES,
        described=describe(view.version),
        is_current=view.version.id == versions[0].id,
        restore_form=EtagForm(formdata=None, etag=etag_for(versions[0].id)),
        read_only=read_only(access),
    )


@bp.get("/survivors/<uuid:survivor_id>/plan/diff")
@allow(CASEWORKER)
@shared_only
def plan_diff(survivor_id: uuid.UUID) -> Response:
    """The changes between two versions, chosen by id (``?old=&new=``)."""
    _access, versions = _history(survivor_id)
    form = diff_form(versions, request.args)
    if not form.validate():
        raise BadRequest("Choose two versions of this plan to compare.")
    old_id, new_id = uuid.UUID(form.old.data), uuid.UUID(form.new.data)
    old = _version(survivor_id, old_id)
    new = old if new_id == old_id else _version(survivor_id, new_id)
    changes = compare(old.sections, new.sections)
    return render_tab(
        "plan_diff.html",
        survivor_id,
        TAB,
        diff_form=form,
        old=describe(old.version),
        new=describe(new.version),
        changed=[c for c in changes if c.changed],
        unchanged=[c.title for c in changes if not c.changed],
    )


@bp.post("/survivors/<uuid:survivor_id>/plan/versions/<uuid:version_id>/restore")
@allow(CASEWORKER)
@shared_only
def plan_restore(survivor_id: uuid.UUID, version_id: uuid.UUID) -> Response:
    """Make an old version current again, as ``POST .../versions/<id>/restore`` does."""
    form = EtagForm()
    s, clock = session(), runtime().clock

    def restore(access: SurvivorAccess) -> None:
        if not form.validate():
            raise InvalidInput("Restore a version from the plan's versions page.")
        plans.restore_version(
            s, access, clock, deps(), version_id=version_id, if_match=form.etag.data
        )

    try:
        reach(survivor_id, WRITE, restore, write=True)
    except PreconditionFailed:
        return versions_page(survivor_id, status=409, stale=True)
    return back_to_plan(survivor_id, "restored")
