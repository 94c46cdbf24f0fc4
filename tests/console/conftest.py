"""Console fixtures: a browser, and a staff member with a known password and TOTP seed."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app)


@pytest.fixture
def advocate(db_session: Session, runtime: Runtime) -> Staff:
    staff = make_member(db_session, runtime, role="advocate")
    db_session.commit()
    return staff
