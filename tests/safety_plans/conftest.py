"""Fixtures for safety plan tests: a survivor with an advocate, and their tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

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


@pytest.fixture
def party(db_session: Session, runtime: Runtime) -> Party:
    advocate, staff_token = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    _device, decoy_token = make_device(db_session, runtime, survivor.id, decoy=True)
    db_session.commit()
    return Party(
        survivor, advocate, auth_header(token), auth_header(staff_token), auth_header(decoy_token)
    )
