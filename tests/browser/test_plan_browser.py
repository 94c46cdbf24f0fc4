"""The safety plan tab in a real browser: an advocate opens the record on its plan, edits and
saves it, meets the survivor's save made meanwhile and merges, then compares two versions.
Every page passes axe-core; the plan, the merge and the diff are photographed into
docs/console/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.auth.factories_staff import make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import assert_accessible, shot, sign_in, survivor_saves
from tests.factories import make_survivor

pytestmark = pytest.mark.browser


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
