"""Fixtures for safety plan tests: a survivor with an advocate, and their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.runtime import Runtime
from tests.factories import auth_header, make_device, make_staff, make_survivor


@dataclass
class Party:
    survivor: Survivor
    advocate: StaffMember
    survivor_headers: dict[str, str]
    advocate_headers: dict[str, str]
    decoy_headers: dict[str, str]


def change_settings(runtime: Runtime, **changes: Any) -> None:
    """Run on as if the process had started with ``changes``: the http edge reads the runtime's
    settings, safety_plans' services the copy in their deps (``SafetyPlansDeps.settings``)."""
    runtime.settings = runtime.settings.replace(**changes)
    wire(runtime).safety_plans.settings = runtime.settings


@pytest.fixture
def party(db_session: Session, runtime: Runtime) -> Party:
    advocate, staff_token = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    _device, decoy_token = make_device(db_session, runtime, survivor.id, decoy=True)
    db_session.commit()
    return Party(
        survivor, advocate, auth_header(token), auth_header(staff_token), auth_header(decoy_token)
    )
