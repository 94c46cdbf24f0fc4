"""The pages the journeys pass quickly or not at all, checked like the rest (axe-core, 320 px):
first-time enrolment with its QR code and recovery codes, the lock page, an error page, the page
a link from another site lands on; and the sign-in and the escalation queue used from the
keyboard alone, with a visible focus."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from messaging.checkins import escalation
from tests.auth.factories_staff import code, make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import check, sign_in
from tests.factories import make_survivor

pytestmark = pytest.mark.browser


def test_first_sign_in_enrols_an_authenticator_in_the_browser(
    live: LiveConsole, page: Page
) -> None:
    with live.session() as s:
        newcomer = make_member(s, live.runtime, enrolled=False)
        s.commit()
    page.goto(live.url + "/console/sign-in")
    page.get_by_label("Email").fill(newcomer.email)
    page.get_by_label("Password").fill(newcomer.password)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Set up your authenticator")).to_be_visible()
    check(page)
    page.get_by_role("button", name="Show the code to scan").click()
    qr = page.get_by_role("img", name="QR code to add Lantern to your authenticator app")
    expect(qr).to_be_visible()
    assert "secret" not in page.url
    check(page, "enrol")
    key = page.locator("[data-enrol-key]").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]+", key)
    page.get_by_label("Six-digit code").fill(code(key, dt.datetime.now(dt.UTC)))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("[data-recovery-codes] li")).to_have_count(10)
    check(page)
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()


def test_the_lock_error_and_elsewhere_pages_are_accessible(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime, role="admin")
        s.commit()
    sign_in(page, live, staff, landing="My account")
    answer = page.goto(live.url + "/console/today")  # an admin's casework page: a 403 page
    assert answer is not None
    assert answer.status == 403
    expect(page.locator("h1")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    check(page)
    page.goto(live.url + "/console/no-such-page")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    check(page)
    page.goto(live.url + "/console/locked")
    expect(page.get_by_role("heading", name="The console is locked")).to_be_visible()
    check(page)


def _focus_outline(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))


def test_sign_in_and_the_queue_work_from_the_keyboard(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime)
        survivor, _ = make_survivor(s, live.runtime, staff.member)
        esc = escalation.escalate(s, live.runtime.clock, None, survivor.id, "help_reply")
        assert esc is not None
        s.commit()
    assert staff.seed is not None
    page.goto(live.url + "/console/sign-in")
    page.keyboard.press("Tab")  # the skip link comes first
    page.keyboard.press("Tab")
    page.keyboard.type(staff.email)
    assert _focus_outline(page) != "none"
    page.keyboard.press("Tab")
    page.keyboard.type(staff.password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.keyboard.type(code(staff.seed, dt.datetime.now(dt.UTC)))  # the field has focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    acknowledge = page.get_by_role("button", name="Acknowledge")
    for _ in range(30):
        if acknowledge.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("Acknowledge cannot be reached with Tab")
    assert _focus_outline(page) != "none"
    page.keyboard.press("Enter")
    expect(page.locator("[data-escalation]")).to_contain_text("acknowledged")


def test_a_link_from_another_site_leads_on_and_keeps_her_signed_in(
    live: LiveConsole, page: Page
) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime)
        s.commit()
    sign_in(page, live, staff)
    # localhost and 127.0.0.1 are different sites: a page on one linking to the other is the
    # webmail link of the threat, and Chromium withholds the Strict cookie on that navigation.
    elsewhere = live.url.replace("127.0.0.1", "localhost")
    page.goto(elsewhere + "/console/locked")
    page.set_content(f'<a href="{live.url}/console/today">Lantern</a>')
    page.get_by_role("link", name="Lantern").click()
    expect(page.get_by_role("heading", name="Continue to Lantern")).to_be_visible()
    check(page)
    page.get_by_role("link", name="Open the console").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
