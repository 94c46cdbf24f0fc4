"""The console behind TLS, in Chromium: the pages send no Referer (their Referrer-Policy), and
a sign-in must still go through (found by the console's security review)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.auth.factories_staff import code, make_member
from tests.browser.server import LiveConsole, serve

pytestmark = pytest.mark.browser


@pytest.fixture
def live_tls(committed_db: str, tmp_path: Path) -> Iterator[LiveConsole]:
    with serve(committed_db, tmp_path, tls=True) as console:
        yield console


@pytest.fixture
def tls_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(ignore_https_errors=True)  # the certificate is self-signed
    yield context.new_page()
    context.close()


def test_an_advocate_signs_in_over_https(live_tls: LiveConsole, tls_page: Page) -> None:
    page = tls_page
    with live_tls.session() as s:
        staff = make_member(s, live_tls.runtime)
        s.commit()
    assert staff.seed is not None
    page.goto(live_tls.url + "/console/sign-in")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(
        code(staff.seed, dt.datetime.now(dt.UTC))
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    page.get_by_role("button", name="Save").click()  # one more form, signed in
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
