"""The survivor record's Messages, Consents and Shared tabs in a real browser: a message sent
through step-up with a real TOTP code, a consent recorded in person, the shared log read;
axe-core on each page, each page usable at 320 px, and a screenshot of each for docs/console/."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from messaging import conversations as conv
from tests.auth.factories_staff import Staff, code, make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import check, lapse_step_up, sign_in
from tests.console.record_worlds import (
    agency,
    agency_reports,
    alert_shared,
    consent_given,
    survivor_says,
)
from tests.factories import make_survivor

pytestmark = pytest.mark.browser


@dataclass
class Case:
    staff: Staff
    survivor_id: uuid.UUID

    def url(self, live: LiveConsole, tab: str) -> str:
        return f"{live.url}/console/survivors/{self.survivor_id}/{tab}"


def _case(live: LiveConsole) -> Case:
    """An advocate, and a survivor on their caseload with a conversation, a consent given in
    the app, an alert shared under it and an event the police reported."""
    with live.session() as s:
        staff = make_member(s, live.runtime, display_name="Robin Advocate")
        survivor, _token = make_survivor(s, live.runtime, staff.member)
        conv.set_lifetime(s, live.runtime.clock, survivor.id, "7d")
        survivor_says(s, live.runtime, survivor.id, "Is it OK if I call tomorrow morning?")
        police = agency(s, live.runtime)
        given = consent_given(s, live.runtime, survivor.id, to=police)
        alert_shared(s, live.runtime, given)
        agency_reports(s, live.runtime, survivor.id, police, "Released on bail, no contact")
        agency(s, live.runtime, name="Harbour Refuge", kind="refuge")
        s.commit()
    return Case(staff, survivor.id)


def test_a_message_is_sent_through_step_up_with_a_real_code(live: LiveConsole, page: Page) -> None:
    case = _case(live)
    sign_in(page, live, case.staff)
    page.goto(case.url(live, "messages"))
    expect(page.get_by_text("Is it OK if I call tomorrow morning?")).to_be_visible()
    expect(page.get_by_text("after 7 days")).to_be_visible()
    check(page)
    typed = "Yes, call at 10. If he is there, just say wrong number."
    page.get_by_label("Message to the survivor").fill(typed)
    lapse_step_up(live, case.staff)
    page.get_by_role("button", name="Send").click()
    # Not sent: the form is back with the text as typed and a code field; the conversation hid.
    expect(page.get_by_label("Message to the survivor")).to_have_value(typed)
    expect(page.get_by_text("Is it OK if I call tomorrow morning?")).to_have_count(0)
    check(page)
    assert case.staff.seed is not None
    # The next step's code: the sign-in used this step's, and a code is good once.
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    page.get_by_label("Code from your authenticator app").fill(code(case.staff.seed, ahead))
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.from-staff .body")).to_have_text(typed)
    expect(page.get_by_text("Not delivered yet")).to_be_visible()
    check(page, "messages.png")
    # Lapsed again: the tab asks for a code before it shows anything.
    lapse_step_up(live, case.staff)
    page.reload()
    expect(page.get_by_role("button", name="Show the conversation")).to_be_visible()
    expect(page.get_by_text(typed)).to_have_count(0)
    check(page)


def test_a_consent_given_in_person_is_recorded(live: LiveConsole, page: Page) -> None:
    case = _case(live)
    sign_in(page, live, case.staff)
    page.goto(case.url(live, "consents"))
    expect(page.get_by_text("in force", exact=True)).to_be_visible()
    check(page)
    page.get_by_label("Agency", exact=True).select_option(label="Harbour Refuge")
    page.get_by_label("Lantern may tell them whether you are safe, not safe").check()
    page.get_by_label("Lantern may ask them to get in touch with you").check()
    page.get_by_label("Why, in a few words").fill("Refuge to know if she has moved")
    ends = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).date().isoformat()
    page.get_by_label("Ends on").fill(ends)
    page.get_by_role("button", name="Record the consent").click()
    pending = page.locator(".card", has_text="Harbour Refuge")
    expect(pending).to_contain_text("waiting for the survivor to confirm it in the app")
    expect(pending).to_contain_text("Refuge to know if she has moved")
    check(page, "consents.png")


def test_what_was_shared_is_read(live: LiveConsole, page: Page) -> None:
    case = _case(live)
    sign_in(page, live, case.staff)
    page.goto(case.url(live, "shared"))
    expect(page.get_by_role("heading", name="What was shared")).to_be_visible()
    expect(page.get_by_text("Released on bail, no contact")).to_be_visible()
    expect(page.get_by_role("cell", name="Custody: released", exact=True)).to_be_visible()
    check(page, "shared.png")
