"""An attacker's review of the survivor record tabs and account pages (issue 14), kept as tests:
the findings (reads audited that were not shown or not audited as ``/v1`` audits them; files
served under the pages' policy), fixed on this branch, and the probes that found nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coordination import consents
from coordination.models import Consent
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.errors import Conflict
from core.runtime import Runtime
from messaging import conversations as conv
from safety_plans import plans
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.console.html_forms import form_fields
from tests.console.record_worlds import (
    agency,
    agency_reports,
    alert_shared,
    audited,
    consent_given,
    survivor_says,
)
from tests.console.records import PDF, as_survivor, deps, share, take_dash, write_entry
from tests.console.test_page_matrix import OTHERS
from tests.factories import make_survivor


def _survivor(db: Session, runtime: Runtime, staff: Staff) -> uuid.UUID:
    survivor, _token = make_survivor(db, runtime, staff.member)
    db.commit()
    return survivor.id


def test_the_risk_tab_audits_no_read_while_the_plan_is_not_shared(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """The tab shows nothing of the assessments while she keeps the plan to herself, yet her
    access log said they were read (``/v1`` answers 404 and rolls the record back)."""
    sid = _survivor(db_session, runtime, advocate)
    taken = take_dash(db_session, runtime, sid)
    share(db_session, runtime, sid, plan=False)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    base = f"/console/survivors/{sid}/risk"
    for path in (base, f"{base}/assessments/{taken.id}"):
        assert "Not shared with staff" in browser.get(path).get_data(as_text=True)
    assert audited(db_session, sid, "risk_assessment.read") == 0


def test_the_journal_tab_audits_no_read_while_the_journal_is_not_shared(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    share(db_session, runtime, sid, journal=False)
    write_entry(db_session, runtime, sid)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    html = browser.get(f"/console/survivors/{sid}/journal").get_data(as_text=True)
    assert "has not shared their journal with staff" in html
    assert audited(db_session, sid, "journal.read") == 0


def test_the_messages_tab_audits_the_settings_it_shows_as_the_api_does(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """``GET /v1/staff/survivors/{id}/messages/settings`` is audited as
    ``messages.settings_read``; the tab shows the same settings under ``messages.read`` only."""
    sid = _survivor(db_session, runtime, advocate)
    conv.set_lifetime(db_session, clock, sid, "24h")
    survivor_says(db_session, runtime, sid, "hello")
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    assert "after 24 hours" in browser.get(f"/console/survivors/{sid}/messages").get_data(
        as_text=True
    )
    assert audited(db_session, sid, "messages.settings_read") == 1


# A JPEG's magic bytes, then a page: ``attachments.sniff`` calls it a photo.
JPEG_WITH_HTML = b"\xff\xd8\xff\xe0<html><script src=/console/static/console.js></script></html>"


def test_a_file_from_the_record_is_never_served_under_the_pages_policy(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """The journal's files and the export are the survivor's (or anyone's) bytes: they had the
    console pages' CSP (scripts from Lantern allowed, no sandbox) where ``/v1`` serves the same
    bytes under the sandboxed policy. nosniff keeps them from being read as HTML today; the
    policy must not be the next thing to fall if a type is ever added or mis-sniffed."""
    sid = _survivor(db_session, runtime, advocate)
    share(db_session, runtime, sid, journal=True)
    entry = write_entry(db_session, runtime, sid, files=(JPEG_WITH_HTML, PDF))
    db_session.commit()
    assert entry.content is not None
    browser.sign_in(advocate, clock.now())
    base = f"/console/survivors/{sid}/journal"
    answers = [browser.get(f"{base}/attachments/{a['id']}") for a in entry.content["attachments"]]
    answers.append(browser.get(f"{base}/export"))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["Content-Type"] == "image/jpeg"
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        policy = answer.headers["Content-Security-Policy"]
        assert "sandbox" in policy, policy
        assert "script-src" not in policy, policy
    page = browser.get(base)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def _save_as_survivor(db: Session, runtime: Runtime, sid: uuid.UUID, **texts: str) -> str:
    """The survivor saves her plan in the app; answers the new version's ETag."""
    access = as_survivor(sid)
    rt_deps = deps(runtime)
    current = plans.get_plan(db, access, runtime.clock, rt_deps)
    sections = dict(current.sections) | {k: [{"text": v}] for k, v in texts.items()}
    saved = plans.save_plan(
        db, access, runtime.clock, rt_deps, if_match=current.etag, sections=sections
    )
    db.commit()
    return saved.etag


def test_a_merge_posted_with_another_survivors_version_shows_nothing_of_it(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    """The form's hidden ETag names the version the merge starts from: a version of survivor B
    (of another advocate) posted on A's page must be neither shown nor audited against A."""
    mine = _survivor(db_session, runtime, advocate)
    other_staff = make_member(db_session, runtime, role="advocate")
    other = _survivor(db_session, runtime, other_staff)
    their_etag = _save_as_survivor(db_session, runtime, other, notes="B's secret refuge address")
    _save_as_survivor(db_session, runtime, mine, notes="A's own words")
    browser.sign_in(advocate, clock.now())
    fields = form_fields(
        browser.get(f"/console/survivors/{mine}/plan/edit").get_data(as_text=True), "plan-form"
    )
    fields["etag"] = their_etag
    fields["notes-0-text"] = "typed by the advocate"
    answer = browser.post(f"/console/survivors/{mine}/plan/edit", fields)
    assert answer.status_code == 409
    body = answer.get_data(as_text=True)
    assert "B&#39;s secret" not in body
    assert "B's secret" not in body
    assert "typed by the advocate" in body
    db_session.expire_all()
    assert not db_session.scalars(
        select(AuditEvent).where(AuditEvent.subject_id == uuid.UUID(their_etag[1:-1]))
    ).all()


SHOWN = {"/plan", "/consents", "/shared", "/messages", "/journal"}
PAYLOAD = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


def test_survivor_and_agency_strings_are_text_on_every_tab(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    sid = _survivor(db_session, runtime, advocate)
    _save_as_survivor(db_session, runtime, sid, notes=PAYLOAD, safe_places=PAYLOAD)
    to = agency(db_session, runtime, name=PAYLOAD)
    consent = consent_given(db_session, runtime, sid, to)
    agency_reports(db_session, runtime, sid, to, PAYLOAD)
    alert_shared(db_session, runtime, consent)
    survivor_says(db_session, runtime, sid, PAYLOAD)
    share(db_session, runtime, sid, journal=True)
    write_entry(db_session, runtime, sid, description=PAYLOAD)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    assert (
        browser.post(f"/console/survivors/{sid}/case-label", {"case_label": PAYLOAD}).status_code
        == 303
    )
    base = f"/console/survivors/{sid}"
    versions = browser.get(f"{base}/plan/versions").get_data(as_text=True)
    ids = sorted(set(re.findall(r"/plan/versions/([0-9a-f-]{36})", versions)))
    pages = ["/plan", "/plan/edit", "/plan/versions", "/consents", "/shared", "/messages"]
    pages += ["/journal", "/risk", "/check-ins"]
    pages += [f"/plan/diff?old={ids[0]}&new={ids[-1]}"] if len(ids) > 1 else []
    for tail in pages:
        answer = browser.get(base + tail)
        assert answer.status_code == 200, tail
        body = answer.get_data(as_text=True)
        assert "<script>alert" not in body, tail
        assert "<img src=x" not in body, tail
        if tail in SHOWN:
            assert "&lt;script&gt;alert(2)" in body, tail
    caseload = browser.get("/console/caseload").get_data(as_text=True)
    assert "<script>alert" not in caseload


def test_no_record_page_reaches_another_survivors_object_under_this_survivors_address(
    app: Flask,
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
) -> None:
    """The page matrix puts another advocate's survivor in the address with her objects; here
    the address names my own survivor and the object (version, assessment, attachment,
    consent) is hers, with forms filled as the page would fill them."""
    mine = _survivor(db_session, runtime, advocate)
    share(db_session, runtime, mine, journal=True)
    my_etag = _save_as_survivor(db_session, runtime, mine, notes="mine")
    other_staff = make_member(db_session, runtime, role="advocate")
    values = {name: make(db_session, runtime, other_staff.member) for name, make in OTHERS.items()}
    values["survivor_id"] = mine
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    form = {"csrf_token": browser.csrf, "etag": my_etag, "confirm": "y"}
    wrong, checked = [], 0
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments)
        if not rule.endpoint.startswith("console.") or "survivor_id" not in args or len(args) < 2:
            continue
        built = rule.build({a: values[a] for a in args})
        assert built is not None
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = browser.client.open(built[1], method=method, data=form)
            checked += 1
            if answer.status_code != 404:
                wrong.append(f"{method} {rule.rule} -> {answer.status_code}")
    assert checked >= 4
    assert not wrong, "\n".join(wrong)
    assert _save_as_survivor(db_session, runtime, mine, notes="still mine")


def test_a_withdrawal_recorded_while_the_survivor_confirms_is_never_undone(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
) -> None:
    """The advocate records the survivor's withdrawal of a consent she is, at that moment,
    confirming in the app. ``confirm`` read the consent (pending) before the withdrawal was
    committed and wrote ``active`` over ``revoked``: alerts then flowed to the agency after
    she said no. (Each session here holds what it read, as each PostgreSQL transaction in
    READ COMMITTED does; neither locked the row.)"""
    sid = _survivor(db_session, runtime, advocate)
    to = agency(db_session, runtime)
    db_session.commit()
    browser.sign_in(advocate, clock.now())
    browser.get(f"/console/survivors/{sid}/consents")
    ends = (clock.now() + dt.timedelta(days=30)).date().isoformat()
    fields = {"agency_id": str(to.id), "kinds": "welfare_check", "purpose": "Safety"}
    fields["ends_on"] = ends
    assert browser.post(f"/console/survivors/{sid}/consents", fields).status_code == 303
    db_session.expire_all()
    pending = db_session.scalars(select(Consent).where(Consent.survivor_id == sid)).one()
    # The tests' sessions share one connection; what the app's session read stays held as
    # it was (expire_on_commit off), as a concurrent transaction's read would.
    with session_factory(expire_on_commit=False) as app_side:
        held = app_side.get(Consent, pending.id)  # the app's confirm has read it: pending
        assert held is not None
        assert held.state == "pending_confirmation"
        app_side.commit()
        withdrawn = browser.post(
            f"/console/survivors/{sid}/consents/{pending.id}/revoke", {"confirm": "y"}
        )
        assert withdrawn.status_code == 303
        try:
            consents.confirm(
                app_side,
                as_survivor(sid),
                runtime.clock,
                consent_id=pending.id,
                receipt_hash=held.receipt_hash,
            )
            app_side.commit()
        except Conflict:
            app_side.rollback()
    db_session.expire_all()
    final = db_session.get(Consent, pending.id)
    assert final is not None
    assert final.state == "revoked"
    now = runtime.clock.now()
    assert consents.covering_consent(db_session, sid, to.id, "welfare_check", now) is None
