"""An advocate's day in a real browser (issue 14's journey): she signs in with a real TOTP
code, sees a missed check-in escalation arrive while the worker runs, acknowledges and resolves
it, names the case, and signs out. Every page passes axe-core, and each is photographed into
docs/console/ for the README."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.auth.factories_staff import code, make_member
from tests.browser.journey import miss_a_check_in, worker_running
from tests.browser.server import LiveConsole
from tests.browser.test_sign_in_browser import assert_accessible
from tests.factories import make_survivor

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_advocates_day(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime, display_name="Sam Advocate")
        survivor, _token = make_survivor(s, live.runtime, staff.member)
        s.commit()
    assert staff.seed is not None

    page.goto(live.url + "/console/sign-in")
    shot(page, "sign-in")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(
        code(staff.seed, dt.datetime.now(dt.UTC))
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("No open escalations on your caseload.")).to_be_visible()

    with worker_running(live):
        miss_a_check_in(live, survivor.id)
        # No reload: the queue refreshes itself in place.
        card = page.locator("[data-escalation]")
        expect(card).to_have_count(1, timeout=30_000)
    expect(card).to_contain_text("missed check-in")
    assert_accessible(page)
    shot(page, "today")
    card.get_by_role("button", name="Acknowledge").click()
    card = page.locator("[data-escalation]")
    expect(card).to_contain_text("acknowledged")
    card.get_by_label("Resolution note").fill("Called her; she is safe and will answer later.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("No open escalations on your caseload.")).to_be_visible()

    page.get_by_role("link", name="Caseload").click()
    expect(page.get_by_role("heading", name="Caseload")).to_be_visible()
    assert_accessible(page)
    shot(page, "caseload")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_the_console_works_at_320_pixels(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime)
        s.commit()
    assert staff.seed is not None
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(live.url + "/console/sign-in")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(
        code(staff.seed, dt.datetime.now(dt.UTC))
    )
    page.get_by_role("button", name="Sign in").click()
    for path in ("/console/today", "/console/caseload"):
        page.goto(live.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} scrolls sideways at 320 px ({width} px)"
        assert_accessible(page)
