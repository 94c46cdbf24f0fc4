"""What the conversation routes do first: who is asking, and for which survivor's record."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from auth.access.permissions import (
    SurvivorAccess,
    require_fresh_second_factor,
    require_staff_access,
)
from auth.principals import StaffPrincipal
from core.runtime import Runtime
from web.access import admitted
from web.db import runtime, session


def staff_access(
    survivor_id: uuid.UUID, action: str, *, write: bool = False
) -> tuple[Session, Runtime, SurvivorAccess]:
    """An advocate or supervisor reaching the survivor's conversation: step-up first (a 401
    before the record is looked for, not a 404), then
    ``auth.access.permissions.require_staff_access`` (caseload, or read-only break-glass;
    audited on the conversation)."""
    s, rt = session(), runtime()
    staff = admitted(StaffPrincipal)
    require_fresh_second_factor(staff, rt.clock)
    access = require_staff_access(
        s, rt.clock, staff, survivor_id, action=action, write=write, subject_kind="conversation"
    )
    return s, rt, access
