"""Small helpers shared by the coordination blueprints (request-side only): the collaborators a
service takes, and the one check of which survivor's record the caller reaches, whose
``SurvivorAccess`` the view hands to the service."""

from __future__ import annotations

import uuid

from auth.access.permissions import SurvivorAccess, require_staff_access, require_survivor_access
from auth.principals import StaffPrincipal, SurvivorPrincipal
from coordination.deps import CoordinationDeps
from core.clock import Clock
from web.access import admitted
from web.db import runtime, session


def deps() -> CoordinationDeps:
    return runtime().collaborators.need(CoordinationDeps)


def clock() -> Clock:
    return runtime().clock


def me() -> SurvivorAccess:
    """The survivor's own record (from their app)."""
    principal = admitted(SurvivorPrincipal)
    return require_survivor_access(
        session(), clock(), principal, principal.survivor_id, action="coordination.read"
    )


def staff_access(survivor_id: uuid.UUID, action: str, *, write: bool = False) -> SurvivorAccess:
    """An advocate or supervisor reaching the survivor
    (``auth.access.permissions.require_staff_access``: caseload or break-glass, audited)."""
    return require_staff_access(
        session(),
        clock(),
        admitted(StaffPrincipal),
        survivor_id,
        action=action,
        write=write,
    )
