"""The safety plan tab in a real browser: an advocate opens the record on its plan, edits and
saves it, meets the survivor's save made meanwhile and merges, then compares two versions.
Every page passes axe-core; the plan, the merge and the diff are photographed into
docs/console/."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.auth.factories_staff import Staff, code, make_member
from tests.browser.server import LiveConsole
from tests.browser.test_sign_in_browser import assert_accessible
from tests.factories import auth_header, make_survivor

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
PLAN_API = "/v1/survivor/safety-plan"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, live: LiveConsole, staff: Staff) -> None:
    assert staff.seed is not None
    page.goto(live.url + "/console/sign-in")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(
        code(staff.seed, dt.datetime.now(dt.UTC))
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()


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


def test_an_advocate_edits_merges_and_compares_the_plan(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime, display_name="Sam Advocate")
        survivor, token = make_survivor(s, live.runtime, staff.member)
        s.commit()
    sign_in(page, live, staff)
    record = f"{live.url}/console/survivors/{survivor.id}"

    page.goto(record)
    expect(page).to_have_url(record + "/plan")
    expect(page.get_by_role("heading", name="Safety plan", exact=True)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Edit the plan").click()
    expect(page.get_by_role("heading", name="Edit the safety plan")).to_be_visible()
    assert_accessible(page)
    page.locator("#notes-0-text").fill("Call the refuge on Monday; ask for Jo.")
    page.locator("#escape_bag-0-checked").check()
    page.get_by_role("button", name="Save the plan").click()
    expect(page.get_by_text("The plan is saved.")).to_be_visible()
    expect(page.get_by_text("Call the refuge on Monday; ask for Jo.")).to_be_visible()
    assert_accessible(page)
    shot(page, "plan")

    # The advocate opens the form again; meanwhile the survivor saves from the app.
    page.get_by_role("link", name="Edit the plan").click()
    page.locator("#children-0-text").fill("The children go to Ms Okafor next door.")
    survivor_saves(
        live,
        token,
        {
            "safe_places": [{"text": "My sister's flat: the spare key is with her."}],
            "children": [{"text": "The children know the word for 'go to the safe place'."}],
        },
    )
    page.get_by_role("button", name="Save the plan").click()
    expect(
        page.get_by_role("heading", name="The plan was saved while you were editing")
    ).to_be_visible()
    # Nothing typed is lost: the advocate's text is in the form, the survivor's beside it.
    expect(page.locator("#children-0-text")).to_have_value(
        "The children go to Ms Okafor next door."
    )
    expect(page.locator("#safe_places-0-text")).to_have_value(
        "My sister's flat: the spare key is with her."
    )
    assert_accessible(page)
    shot(page, "plan-merge")
    page.locator("#children-2-text").fill("The children know the word for 'go to the safe place'.")
    page.get_by_role("button", name="Save the merged plan").click()
    expect(page.get_by_text("The plan is saved.")).to_be_visible()
    expect(page.get_by_text("The children go to Ms Okafor next door.")).to_be_visible()
    expect(page.get_by_text("My sister's flat: the spare key is with her.")).to_be_visible()

    page.get_by_role("link", name="Versions and changes").click()
    expect(page.get_by_role("heading", name="Versions of the safety plan")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Older version").select_option(index=3)  # the template
    page.get_by_role("button", name="Show the changes").click()
    expect(page.get_by_role("heading", name="Changes between two versions")).to_be_visible()
    assert "refuge" not in page.url  # ids only in the address
    expect(page.locator(".diff-added").first).to_be_visible()
    assert_accessible(page)
    shot(page, "plan-diff")
    diff = page.url.removeprefix(record)

    # At 320 px wide nothing scrolls sideways.
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/plan", "/plan/edit", "/plan/versions", diff):
        page.goto(record + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} scrolls sideways at 320 px ({width} px)"
