"""What every safety_plans route does first: who is asking, and for which survivor; then the
session, that ``SurvivorAccess`` and the collaborators, in the order the services take them."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, require_staff_access, require_survivor_access
from auth.principals import StaffPrincipal, SurvivorPrincipal
from core.clock import Clock
from safety_plans.deps import SafetyPlansDeps
from web.access import admitted
from web.db import runtime, session

ETAG_HEADER = {
    "ETag": {"description": "Strong ETag of the plan version", "schema": {"type": "string"}}
}
# Every refusal these routes can give; schemathesis checks the answers against this list.
COMMON_ERRORS = (401, 403, 404)
# What a write that stores a plan version may also answer: 413 (over the size limit), 429
# (over the saves a minute allow; with Retry-After).
VERSION_WRITE_ERRORS = (412, 413, 422, 428, 429)

Call = tuple[Session, SurvivorAccess, Clock, SafetyPlansDeps]


def deps() -> SafetyPlansDeps:
    return runtime().collaborators.need(SafetyPlansDeps)


def survivor_access(action: str, *, write: bool = False) -> Call:
    """The survivor acting on their own record (no survivor id in the path)."""
    principal = admitted(SurvivorPrincipal)
    s, clock = session(), runtime().clock
    access = require_survivor_access(
        s, clock, principal, principal.survivor_id, action=action, write=write
    )
    return s, access, clock, deps()


def staff_access(
    survivor_id: uuid.UUID,
    action: str,
    *,
    write: bool = False,
    subject: tuple[str, uuid.UUID] | None = None,
) -> Call:
    """An advocate or supervisor reaching the survivor
    (``auth.access.permissions.require_staff_access``: caseload or break-glass, audited naming the
    one object read when there is one)."""
    s, clock = session(), runtime().clock
    kind, subject_id = subject if subject else (None, None)
    access = require_staff_access(
        s,
        clock,
        admitted(StaffPrincipal),
        survivor_id,
        action=action,
        write=write,
        subject_kind=kind,
        subject_id=subject_id,
    )
    return s, access, clock, deps()


def if_match() -> str | None:
    return request.headers.get("If-Match")


def with_etag(data: Any, etag: str, status: int = 200) -> tuple[Any, int, dict[str, str]]:
    return data, status, {"ETag": etag}
