"""Signing in to the console in a real browser, with a real TOTP code; accessibility checked
by axe-core on each page it passes."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from tests.auth.factories_staff import code, make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import assert_accessible

pytestmark = pytest.mark.browser


def test_an_advocate_signs_in_and_out_in_chromium(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime)
        s.commit()
    assert staff.seed is not None
    page.goto(live.url + "/console/")
    expect(page).to_have_url(live.url + "/console/sign-in")
    assert_accessible(page)
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Code from your authenticator app").fill(
        code(staff.seed, dt.datetime.now(dt.UTC))
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    assert_accessible(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "__Host-lantern")
    assert cookie["httpOnly"]
    assert cookie["secure"]
    assert cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(live.url + "/console/today")
    expect(page).to_have_url(live.url + "/console/sign-in")
