"""The record's Journal tab: shared entries, attachments streamed inline (photos) or as downloads,
the signed evidence bundle, and what an attacker tries against them."""

from __future__ import annotations

import dataclasses
import io
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.runtime import Runtime
from safety_plans import bundle, journal
from safety_plans.entries import EntryView
from tests.auth.factories_staff import Staff, make_member
from tests.console.browser import Browser
from tests.console.records import (
    PDF,
    as_survivor,
    break_glass,
    deps,
    png,
    share,
    upload,
    write_entry,
)
from tests.factories import make_staff, make_survivor

PHOTO = png()


def _journal(survivor_id: uuid.UUID) -> str:
    return f"/console/survivors/{survivor_id}/journal"


def _attachment(survivor_id: uuid.UUID, attachment_id: uuid.UUID | str) -> str:
    return f"{_journal(survivor_id)}/attachments/{attachment_id}"


def _ids(entry: EntryView) -> list[str]:
    assert entry.content is not None
    return [a["id"] for a in entry.content["attachments"]]


def _shared_survivor(
    db_session: Session, runtime: Runtime, staff: Staff, *, shared: bool = True
) -> tuple[Survivor, EntryView]:
    survivor = make_survivor(db_session, runtime, staff.member)[0]
    share(db_session, runtime, survivor.id, journal=shared)
    entry = write_entry(db_session, runtime, survivor.id, files=(PHOTO, PDF))
    db_session.commit()
    return survivor, entry


@pytest.fixture
def signed_in(browser: Browser, advocate: Staff, clock: FrozenClock) -> Browser:
    browser.sign_in(advocate, clock.now())
    return browser


def test_the_tab_shows_entries_corrections_deletions_and_attachments(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor, first = _shared_survivor(db_session, runtime, advocate)
    write_entry(db_session, runtime, survivor.id, "It was Sunday, not Saturday.", amends=first.id)
    gone = write_entry(db_session, runtime, survivor.id, "Something I took back.")
    journal.delete_entry(
        db_session, as_survivor(survivor.id), runtime.clock, deps(runtime), entry_id=gone.id
    )
    db_session.commit()
    page = signed_in.get(_journal(survivor.id))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "He took my phone and read my messages." in html
    assert "Intimidation, Technology-facilitated abuse" in html
    assert "It was Sunday, not Saturday." in html
    assert "Entry 2, correcting" in html
    assert "Corrected by" in html
    assert "Entry 3 was deleted by the survivor" in html
    assert "Something I took back." not in html
    photo, document = _ids(first)
    assert f'<img src="{_attachment(survivor.id, photo)}"' in html
    assert 'alt="Photo attached to entry 1 (1 of 2)"' in html
    assert f'<a href="{_attachment(survivor.id, document)}" download>' in html
    assert f'href="{_journal(survivor.id)}/export"' in html
    assert "<title>Survivor record · Lantern</title>" in html


def test_a_photo_is_streamed_inline_with_its_checked_type_and_a_document_downloads(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor, entry = _shared_survivor(db_session, runtime, advocate)
    photo, document = _ids(entry)
    shown = signed_in.get(_attachment(survivor.id, photo))
    assert shown.status_code == 200
    assert shown.data == PHOTO
    assert shown.headers["Content-Type"] == "image/png"
    assert shown.headers["Content-Disposition"] == f'inline; filename="{uuid.UUID(photo).hex}.png"'
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    fetched = signed_in.get(_attachment(survivor.id, document))
    assert fetched.data == PDF
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    assert fetched.headers["Content-Disposition"].endswith('.pdf"')
    reads = db_session.scalars(
        select(AuditEvent).where(AuditEvent.subject_kind == "journal_attachment")
    ).all()
    assert {(e.action, str(e.subject_id)) for e in reads} == {
        ("journal.read", photo),
        ("journal.read", document),
    }


def test_the_export_is_the_signed_bundle_the_api_produces(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor, _entry = _shared_survivor(db_session, runtime, advocate)
    answer = signed_in.get(_journal(survivor.id) + "/export")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="journal.zip"'
    assert answer.headers["Cache-Control"] == "no-store"
    published = [dataclasses.asdict(k) for k in bundle.published_keys(runtime.keyring)]
    trusted = bundle.public_keys({"keys": published})
    report = bundle.verify(io.BytesIO(answer.data), trusted)
    assert report.ok, report.problems
    assert report.checked == 1
    assert db_session.scalars(
        select(AuditEvent.survivor_id).where(AuditEvent.action == "journal.export")
    ).all() == [survivor.id]


def test_when_the_journal_is_not_shared_the_tab_says_so_and_nothing_is_served(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor, entry = _shared_survivor(db_session, runtime, advocate, shared=False)
    html = signed_in.get(_journal(survivor.id)).get_data(as_text=True)
    assert "has not shared their journal with staff" in html
    assert "He took my phone" not in html
    assert "/export" not in html
    for photo in _ids(entry):
        assert signed_in.get(_attachment(survivor.id, photo)).status_code == 404
    assert signed_in.get(_journal(survivor.id) + "/export").status_code == 404


def test_another_advocates_survivor_is_not_found_on_every_journal_page(
    signed_in: Browser, db_session: Session, runtime: Runtime
) -> None:
    other = make_member(db_session, runtime)
    theirs, entry = _shared_survivor(db_session, runtime, other)
    paths = [_journal(theirs.id), _journal(theirs.id) + "/export"]
    paths += [_attachment(theirs.id, a) for a in _ids(entry)]
    for path in paths:
        answer = signed_in.get(path)
        assert answer.status_code == 404, path
        assert answer.mimetype == "text/html"
        assert PHOTO not in answer.data


def test_an_attachment_of_another_survivor_is_not_fetched_through_this_ones_url(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    mine, _entry = _shared_survivor(db_session, runtime, advocate)
    also_mine, their_entry = _shared_survivor(db_session, runtime, advocate)
    other, _ = make_staff(db_session, runtime)
    theirs = make_survivor(db_session, runtime, other)[0]
    share(db_session, runtime, theirs.id, journal=True)
    stranger = write_entry(db_session, runtime, theirs.id, files=(PHOTO,))
    db_session.commit()
    for attachment_id in [*_ids(their_entry), *_ids(stranger)]:
        answer = signed_in.get(_attachment(mine.id, attachment_id))
        assert answer.status_code == 404
        assert PHOTO not in answer.data
    assert signed_in.get(_attachment(also_mine.id, _ids(their_entry)[0])).data == PHOTO


def test_an_upload_not_yet_in_an_entry_is_the_survivors_draft(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor, _entry = _shared_survivor(db_session, runtime, advocate)
    draft = upload(db_session, runtime, survivor.id, PHOTO)
    db_session.commit()
    assert signed_in.get(_attachment(survivor.id, draft)).status_code == 404
    assert signed_in.get(_attachment(survivor.id, uuid.uuid4())).status_code == 404


def test_a_break_glass_supervisor_reads_the_shared_journal(
    browser: Browser, advocate: Staff, clock: FrozenClock, db_session: Session, runtime: Runtime
) -> None:
    survivor, entry = _shared_survivor(db_session, runtime, advocate)
    supervisor = make_member(db_session, runtime, role="supervisor")
    break_glass(db_session, runtime, supervisor.member, survivor.id)
    db_session.commit()
    browser.sign_in(supervisor, clock.now())
    assert "He took my phone" in browser.get(_journal(survivor.id)).get_data(as_text=True)
    assert browser.get(_attachment(survivor.id, _ids(entry)[0])).data == PHOTO
    via = db_session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == "journal.read", AuditEvent.actor_id == supervisor.member.id
        )
    ).all()
    assert via
    assert all(d == {"via": "break_glass"} for d in via)


def test_the_journal_takes_no_posts(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor, entry = _shared_survivor(db_session, runtime, advocate)
    for path in (_journal(survivor.id), _attachment(survivor.id, _ids(entry)[0])):
        assert signed_in.post(path, {}).status_code == 405


def test_what_the_survivor_wrote_is_shown_as_text_never_as_markup(
    signed_in: Browser, advocate: Staff, db_session: Session, runtime: Runtime
) -> None:
    survivor = make_survivor(db_session, runtime, advocate.member)[0]
    share(db_session, runtime, survivor.id, journal=True)
    write_entry(
        db_session, runtime, survivor.id, '<img src=x onerror="alert(1)"><script>x()</script>'
    )
    db_session.commit()
    html = signed_in.get(_journal(survivor.id)).get_data(as_text=True)
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>" not in html
