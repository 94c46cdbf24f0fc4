"""The console with JavaScript switched off in Chromium: every core flow is a plain form, so an
advocate on a locked-down machine still signs in, acts on an escalation, edits the plan and
signs out. (The queue then refreshes only with its Refresh link, and no countdown runs; the
server's idle limit still ends the session.) axe-core needs scripts, so it checks these pages
in the other browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from messaging.checkins import escalation
from tests.auth.factories_staff import make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import sign_in
from tests.factories import make_survivor

pytestmark = pytest.mark.browser


@pytest.fixture
def page_without_js(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    yield context.new_page()
    context.close()


def test_casework_works_with_javascript_off(live: LiveConsole, page_without_js: Page) -> None:
    page = page_without_js
    with live.session() as s:
        staff = make_member(s, live.runtime)
        survivor, _ = make_survivor(s, live.runtime, staff.member)
        assert escalation.escalate(s, live.runtime.clock, None, survivor.id, "help_reply")
        s.commit()
    sign_in(page, live, staff)
    card = page.locator("[data-escalation]")
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("[data-escalation]")).to_contain_text("acknowledged")
    page.get_by_role("link", name="Refresh").click()
    card = page.locator("[data-escalation]")
    card.get_by_label("Resolution note").fill("Spoke to her; safe.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("No open escalations on your caseload.")).to_be_visible()

    page.goto(f"{live.url}/console/survivors/{survivor.id}/plan/edit")
    page.locator("#notes-0-text").fill("Written with scripts off.")
    page.get_by_role("button", name="Save the plan").click()
    expect(page.get_by_text("The plan is saved.")).to_be_visible()
    expect(page.get_by_text("Written with scripts off.")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
