"""The record's Risk, Journal and Check-ins tabs in Chromium: a DASH assessment taken end to end,
axe-core on every page, each page usable at 320 px, and the screenshots in docs/console/."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from playwright.sync_api import Page, expect

from auth.staff.models import StaffMember
from core.audit import Actor
from core.ids import new_id
from messaging.checkins import arrangements, states
from messaging.checkins.models import CheckinOccurrence
from tests.auth.factories_staff import Staff, make_member
from tests.browser.server import LiveConsole
from tests.browser.steps import check, sign_in
from tests.console.records import PDF, png, schedule, share, take_dash, write_entry
from tests.factories import make_survivor

pytestmark = pytest.mark.browser


def _record(live: LiveConsole) -> tuple[Staff, uuid.UUID]:
    """An advocate, and a survivor on their caseload with a journal shared, an assessment taken
    in the app, and check-ins (a recurring one with its last few occurrences)."""
    rt = live.runtime
    with live.session() as s:
        staff = make_member(s, rt)
        member = s.get_one(StaffMember, staff.member.id)
        survivor = make_survivor(s, rt, member)[0]
        sid = survivor.id
        share(s, rt, sid, journal=True)
        take_dash(s, rt, sid, yes=6)
        first = write_entry(
            s,
            rt,
            sid,
            "He waited outside my work and followed me home.",
            files=(png(320, 200), PDF),
        )
        write_entry(s, rt, sid, "It was Thursday, not Wednesday.", amends=first.id)
        schedule(s, rt, sid, hours=3)
        weekly = arrangements.create_schedule(
            s,
            rt.clock,
            rt.vault,
            Actor("survivor", sid),
            sid,
            arrangements.NewSchedule(
                kind="recurring", channel="app", days=["mon", "wed", "fri"], at="19:00"
            ),
        )
        now = rt.clock.now()
        for days, state in ((2, states.SAFE), (4, states.ESCALATED), (6, states.SAFE)):
            due = now - dt.timedelta(days=days)
            s.add(
                CheckinOccurrence(
                    id=new_id(),
                    schedule_id=weekly.id,
                    survivor_id=sid,
                    due_at=due,
                    send_at=due,
                    state=state,
                    channel="app",
                    grace_ends_at=due + dt.timedelta(minutes=30),
                    created_at=due,
                )
            )
        s.commit()
    return staff, sid


def test_an_advocate_takes_a_dash_assessment_and_reads_the_record(
    live: LiveConsole, page: Page
) -> None:
    staff, sid = _record(live)
    sign_in(page, live, staff)
    record = f"{live.url}/console/survivors/{sid}"

    page.goto(record + "/risk")
    expect(page.get_by_role("heading", name="Risk", exact=True)).to_be_visible()
    check(page)
    page.get_by_role("link", name="Take the DASH risk checklist").click()
    expect(page.get_by_role("heading", name="Take the DASH risk checklist")).to_be_visible()
    check(page)
    # Submitting with nothing answered: the browser itself asks for the first answer.
    page.get_by_role("button", name="Record the assessment").click()
    expect(page.get_by_role("heading", name="Take the DASH risk checklist")).to_be_visible()
    for i in range(1, 25):
        group = page.locator(f"#q-q{i}")
        group.get_by_label("Yes" if i <= 14 else "No", exact=True).check()
    page.locator("#answer-incidents_12_months").fill("3")
    page.get_by_label("Notes").fill("Taken together at the clinic.")
    page.get_by_role("button", name="Record the assessment").click()

    expect(page.get_by_text("This result meets a MARAC referral criterion.")).to_be_visible()
    expect(page.get_by_role("heading", name="DASH risk checklist,")).to_be_visible()
    expect(page.get_by_text("Taken together at the clinic.")).to_be_visible()
    check(page)
    page.get_by_role("link", name="Back to Risk").click()
    expect(page.get_by_text("Meets a MARAC referral criterion since")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("An advocate, with them")
    expect(rows.first).to_contain_text("High")
    check(page, "risk.png")

    page.get_by_role("link", name="Journal", exact=True).click()
    expect(page.get_by_role("heading", name="Journal", exact=True)).to_be_visible()
    photo = page.get_by_role("img", name="Photo attached to entry 1 (1 of 2)")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.naturalWidth") == 320  # the image really loaded
    expect(
        page.get_by_role("link", name="Download the document attached to entry 1")
    ).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed evidence bundle (zip)").click()
    assert download.value.suggested_filename == "journal.zip"
    check(page, "journal.png")

    page.get_by_role("link", name="Check-ins", exact=True).click()
    expect(page.get_by_role("heading", name="Check-ins", exact=True)).to_be_visible()
    expect(page.get_by_text("Every Mon, Wed, Fri at 19:00")).to_be_visible()
    expect(page.get_by_text("Missed or help: escalated")).to_be_visible()
    check(page, "checkins.png")
