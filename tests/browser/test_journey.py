"""An advocate's day in a real browser (issue 14's journey): she signs in with a real TOTP
code, sees a missed check-in escalation arrive while the worker runs, acknowledges and resolves
it, names the case, edits the plan while the survivor saves hers over the API (the merge view
appears), sends a message through step-up, records a DASH assessment and a consent given in
person, and signs out. Each page passes axe-core at desktop width and at 320 px."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from tests.auth.factories_staff import code, make_member
from tests.browser.journey import miss_a_check_in, worker_running
from tests.browser.server import LiveConsole
from tests.browser.steps import (
    assert_accessible,
    check,
    lapse_step_up,
    shot,
    sign_in,
    survivor_saves,
)
from tests.console.record_worlds import agency
from tests.factories import make_survivor

pytestmark = pytest.mark.browser


def test_an_advocates_day(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime, display_name="Sam Advocate")
        survivor, token = make_survivor(s, live.runtime, staff.member)
        agency(s, live.runtime, name="Harbour Refuge", kind="refuge")
        s.commit()
    assert staff.seed is not None
    record = f"{live.url}/console/survivors/{survivor.id}"

    # She signs in with a real code; nothing is waiting yet.
    page.goto(live.url + "/console/sign-in")
    shot(page, "sign-in")
    sign_in(page, live, staff)
    expect(page.get_by_text("No open escalations on your caseload.")).to_be_visible()

    # A check-in is missed; the worker escalates it and Today shows it without a reload.
    with worker_running(live):
        miss_a_check_in(live, survivor.id)
        card = page.locator("[data-escalation]")
        expect(card).to_have_count(1, timeout=30_000)
    expect(card).to_contain_text("missed check-in")
    check(page, "today")
    card.get_by_role("button", name="Acknowledge").click()
    card = page.locator("[data-escalation]")
    expect(card).to_contain_text("acknowledged")
    card.get_by_label("Resolution note").fill("Called her; she is safe and will answer later.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("No open escalations on your caseload.")).to_be_visible()

    # She names the case, from the caseload.
    page.get_by_role("link", name="Caseload").click()
    page.get_by_role("link", name=f"Unlabelled case {str(survivor.id)[:8]}").click()
    expect(page).to_have_url(record + "/plan")
    page.get_by_text("Change the case label").click()
    page.get_by_label("Case label (seen by staff on this case only)").fill("Rowan K.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="Rowan K.")).to_be_visible()
    page.get_by_role("link", name="Caseload").click()
    check(page, "caseload")

    # She edits the plan while the survivor saves hers from the app: the merge view appears.
    page.goto(record + "/plan/edit")
    page.locator("#notes-0-text").fill("Call the refuge on Monday; ask for Jo.")
    survivor_saves(live, token, {"children": [{"text": "The children know the safe word."}]})
    page.get_by_role("button", name="Save the plan").click()
    expect(
        page.get_by_role("heading", name="The plan was saved while you were editing")
    ).to_be_visible()
    expect(page.locator("#notes-0-text")).to_have_value("Call the refuge on Monday; ask for Jo.")
    check(page)
    page.get_by_role("button", name="Save the merged plan").click()
    expect(page.get_by_text("The plan is saved.")).to_be_visible()
    expect(page.get_by_text("Call the refuge on Monday; ask for Jo.")).to_be_visible()
    expect(page.get_by_text("The children know the safe word.")).to_be_visible()

    # A message, through step-up: her code from sign-in is too old by now.
    lapse_step_up(live, staff)
    page.goto(record + "/messages")
    expect(page.get_by_role("button", name="Show the conversation")).to_be_visible()
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)  # a step not used at sign-in
    page.get_by_label("Code from your authenticator app").fill(code(staff.seed, ahead))
    page.get_by_role("button", name="Show the conversation").click()
    typed = "We spoke today. Answer the check-in when it is safe to."
    page.get_by_label("Message to the survivor").fill(typed)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.from-staff .body")).to_have_text(typed)
    check(page)

    # A DASH assessment, taken with her.
    page.goto(record + "/risk")
    page.get_by_role("link", name="Take the DASH risk checklist").click()
    for i in range(1, 25):
        page.locator(f"#q-q{i}").get_by_label("Yes" if i <= 14 else "No", exact=True).check()
    page.locator("#answer-incidents_12_months").fill("3")
    page.get_by_role("button", name="Record the assessment").click()
    expect(page.get_by_text("This result meets a MARAC referral criterion.")).to_be_visible()
    check(page)

    # A consent she gives in person, recorded for her to confirm in the app.
    page.goto(record + "/consents")
    page.get_by_label("Agency", exact=True).select_option(label="Harbour Refuge")
    page.get_by_label("Lantern may tell them whether you are safe, not safe").check()
    page.get_by_label("Why, in a few words").fill("Refuge to know she is safe")
    ends = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).date().isoformat()
    page.get_by_label("Ends on").fill(ends)
    page.get_by_role("button", name="Record the consent").click()
    expect(page.locator(".card", has_text="Harbour Refuge")).to_contain_text(
        "waiting for the survivor to confirm it in the app"
    )
    check(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(record + "/plan")
    expect(page).to_have_url(live.url + "/console/sign-in")


def test_the_console_works_at_320_pixels(live: LiveConsole, page: Page) -> None:
    with live.session() as s:
        staff = make_member(s, live.runtime)
        s.commit()
    assert staff.seed is not None
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in(page, live, staff)
    for path in ("/console/today", "/console/caseload"):
        page.goto(live.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} scrolls sideways at 320 px ({width} px)"
        assert_accessible(page)
