"""My account in a real browser: set the on-duty phone and see it masked, sign out the other
sessions; axe-core on each page (its error state too), usable at 320 px; the screenshots in
docs/console/ are taken here."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from auth.authn import new_staff_token
from auth.staff.models import StaffSession
from core.ids import new_id
from tests.auth.factories_staff import Staff, make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import assert_accessible, fits, shot, sign_in
from tests.factories import auth_header

pytestmark = pytest.mark.browser

PHONE = "+44 7911 123456"


def _api_session(live: LiveConsole, staff: Staff) -> str:
    """A live API session of the same member (as the app would hold), without a second code."""
    token, digest = new_staff_token("api")
    now = dt.datetime.now(dt.UTC)
    with live.session() as s:
        s.add(
            StaffSession(
                id=new_id(),
                staff_id=staff.member.id,
                token_digest=digest,
                stage="full",
                channel="api",
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(hours=8),
                second_factor_at=now,
            )
        )
        s.commit()
    return token


def test_my_account_sets_the_duty_phone_masked_and_signs_out_the_others(
    live: LiveConsole, page: Page
) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime, display_name="Robin Ashdown")
        s.commit()
    api_token = _api_session(live, staff)
    sign_in(page, live, staff)

    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    expect(page.get_by_text("No phone is set")).to_be_visible()
    assert_accessible(page)

    # The on-duty phone: saved, then shown only by its last two digits.
    page.get_by_label("Phone number").fill(PHONE)
    page.get_by_label("I am on duty").check()
    page.get_by_role("button", name="Save on-duty settings").click()
    expect(page.get_by_text("Your on-duty settings are saved.")).to_be_visible()
    expect(page.get_by_text("the phone number ending in 56")).to_be_visible()
    expect(page.get_by_label("I am on duty")).to_be_checked()
    html = page.content()
    assert "7911 123456" not in html
    assert "7911123456" not in html
    assert_accessible(page)
    fits(page)
    shot(page, "account.png")

    # A refused form (the new password typed twice differently) is accessible too.
    page.get_by_label("Current password").first.fill(staff.password)
    page.locator("#pw-code").fill("123456")
    page.get_by_label("New password", exact=True).fill("amber glacier trombone lantern 31")
    page.get_by_label("New password again").fill("amber glacier trombone lantern 32")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_have_text("The two new passwords are not the same.")
    assert_accessible(page)

    # My sessions: this console session and the app's, then only this one.
    page.get_by_role("link", name="My sessions").click()
    expect(page.get_by_role("heading", name="My sessions")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("tr[data-current]")).to_contain_text("This one")
    expect(page.locator("tbody")).to_contain_text("App or API")
    assert_accessible(page)
    fits(page)
    shot(page, "sessions.png")
    api = live.app.test_client()
    assert api.get("/v1/staff/me", headers=auth_header(api_token)).status_code == 200
    page.get_by_role("button", name="Sign out the others").click()
    expect(page.get_by_text("Your other sessions are signed out.")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.get_by_text("This is your only session.")).to_be_visible()
    assert_accessible(page)
    assert api.get("/v1/staff/me", headers=auth_header(api_token)).status_code == 401
    # This session still works.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
