"""What every browser test does the same way: sign in with a real TOTP code, check a page
(axe-core finds nothing; nothing scrolls sideways at 320 px) and photograph it.

Screenshots go to ``docs/console/`` (shown in the README) when ``LANTERN_SCREENSHOTS=1``
(``make screenshots``); otherwise to a scratch folder, so an ordinary run still takes them but
leaves the committed pictures alone.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import update

from auth.staff.models import StaffSession
from tests.auth.factories_staff import Staff, code
from tests.browser.server import LiveConsole
from tests.factories import auth_header

PLAN_API = "/v1/survivor/safety-plan"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"


def shots_folder() -> Path:
    if os.environ.get("LANTERN_SCREENSHOTS") == "1":
        return DOCS
    return Path(tempfile.gettempdir()) / "lantern-console-shots"


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def sign_in(page: Page, live: LiveConsole, staff: Staff, *, landing: str = "Today") -> None:
    """Password, then the authenticator's current code, through the real pages."""
    assert staff.seed is not None
    page.goto(live.url + "/console/sign-in")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(
        code(staff.seed, dt.datetime.now(dt.UTC))
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=landing, exact=True)).to_be_visible()


def fits(page: Page, width: int = 320) -> None:
    """Nothing but a table's own scroller is wider than a small phone's screen."""
    size = page.viewport_size
    page.set_viewport_size({"width": width, "height": 800})
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"
    if size is not None:
        page.set_viewport_size(size)


def shot(page: Page, name: str) -> None:
    folder = shots_folder()
    folder.mkdir(parents=True, exist_ok=True)
    filename = name if name.endswith(".png") else f"{name}.png"
    page.screenshot(path=str(folder / filename), full_page=True)


def check(page: Page, name: str | None = None) -> None:
    """axe finds nothing at desktop width and at 320 px; then the picture, if one is named."""
    assert_accessible(page)
    fits(page)
    if name:
        shot(page, name)


def lapse_step_up(live: LiveConsole, staff: Staff) -> None:
    """The code was given 20 minutes ago (the browser cannot wait out the window)."""
    with live.session() as s:
        s.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == staff.member.id)
            .values(second_factor_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20))
        )
        s.commit()


def survivor_saves(live: LiveConsole, token: str, changes: dict[str, Any]) -> None:
    """The survivor's app saves the plan (read, then write with If-Match), behind the page."""
    app = live.app.test_client()
    read = app.get(PLAN_API, headers=auth_header(token))
    assert read.status_code == 200
    body = read.get_json()
    sections = copy.deepcopy(body["sections"]) | changes
    headers = auth_header(token) | {"If-Match": read.headers["ETag"]}
    saved = app.put(PLAN_API, json={"sections": sections}, headers=headers)
    assert saved.status_code == 200, saved.get_json()
