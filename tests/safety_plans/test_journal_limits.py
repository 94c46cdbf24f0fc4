"""Storage limits on the journal: entries a day, attachment room, and the sweep of blobs nobody
will ever read (abandoned uploads, and files left behind by a failed commit)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from core.clock import FrozenClock
from core.jobs import JobRegistry
from core.runtime import Runtime
from core.worker import Worker
from safety_plans import attachments, journal
from safety_plans.models import JournalAttachment, JournalEntry, JournalHead
from safety_plans.wiring import register_jobs
from tests.factories import auth_header, make_device
from tests.json_client import JsonClient, JsonResponse
from tests.refusals import assert_refused
from tests.safety_plans.conftest import Party, change_settings
from tests.safety_plans.test_journal import ENTRIES, JPEG, UPLOAD, entry, upload

TINY_JPEG = b"\xff\xd8\xff"  # the smallest file the sniffer takes for a photo


def _blobs(runtime: Runtime) -> set[str]:
    root = Path(runtime.settings.instance_path) / "attachments"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _chain(db_session: Session, survivor_id: uuid.UUID) -> tuple[int, int]:
    db_session.expire_all()
    head = db_session.get(JournalHead, survivor_id)
    count = db_session.scalar(
        select(func.count())
        .select_from(JournalEntry)
        .where(JournalEntry.survivor_id == survivor_id)
    )
    return (head.last_seq if head else 0), int(count or 0)


def test_journal_entries_per_day_boundary_and_the_window_frees_a_slot(
    client: JsonClient, party: Party, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    def fresh() -> dict[str, str]:  # a survivor's access token lives minutes, not a day
        headers = auth_header(make_device(db_session, runtime, party.survivor.id)[1])
        db_session.commit()
        return headers

    h = party.survivor_headers
    limit = runtime.settings.journal_entries_per_day
    first = None
    for n in range(limit):
        # The last one is a correction: corrections are entries too.
        body = entry(description=f"entry {n}", amends=first) if n == limit - 1 else entry()
        r = client.post(ENTRIES, json=body, headers=h)
        assert r.status_code == 201, r.json
        first = first or r.json["id"]
        clock.advance(seconds=5)
    before = _chain(db_session, party.survivor.id)
    r = client.post(ENTRIES, json=entry(), headers=h)
    # The first entry was `limit` * 5 seconds ago; its slot frees a day after it was written.
    wait = 86_400 - limit * 5
    assert_refused(r, 429, "journal-entries-limited", retry_after=wait)
    assert _chain(db_session, party.survivor.id) == before
    # Deleting is never held back: a survivor at the limit can still remove an entry.
    assert client.delete(f"{ENTRIES}/{first}", headers=h).status_code == 204
    clock.advance(seconds=wait - 1)
    h = fresh()
    assert_refused(client.post(ENTRIES, json=entry(), headers=h), 429, "journal-entries-limited", 1)
    clock.advance(seconds=1)
    assert client.post(ENTRIES, json=entry(), headers=h).status_code == 201


def test_attachment_room_counts_drafts_and_entries_and_deleting_frees_it(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    h = party.survivor_headers
    change_settings(runtime, attachment_quota_bytes=2 * len(JPEG) + len(TINY_JPEG))
    one = upload(client, h, JPEG).json
    two = upload(client, h, JPEG).json
    r = client.post(ENTRIES, json=entry(attachment_ids=[one["id"], two["id"]]), headers=h)
    assert r.status_code == 201
    doomed = r.json["id"]
    assert upload(client, h, TINY_JPEG).status_code == 201  # exactly full, with a draft
    blobs = _blobs(runtime)
    assert_refused(upload(client, h, TINY_JPEG), 413, "attachment-storage-full")
    assert _blobs(runtime) == blobs, "a refused upload writes nothing to disk"
    # Deleting the entry shreds its attachments, and their room is free again.
    assert client.delete(f"{ENTRIES}/{doomed}", headers=h).status_code == 204
    assert upload(client, h, JPEG).status_code == 201
    assert upload(client, h, JPEG).status_code == 201
    assert_refused(upload(client, h, TINY_JPEG), 413, "attachment-storage-full")


def _worker(runtime: Runtime) -> Worker:
    registry = JobRegistry()
    wiring = wire(runtime)
    register_jobs(registry, wiring.safety_plans, wiring.hooks.high_risk)
    return Worker(runtime.session_factory, registry, runtime.clock)


def _access(party: Party) -> SurvivorAccess:
    principal = SurvivorPrincipal(party.survivor.id, uuid.uuid4(), False)
    return SurvivorAccess(party.survivor.id, "self", principal)


def test_a_blob_left_by_a_failed_commit_is_swept_once_it_is_old_enough(
    client: JsonClient, party: Party, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    """The file is written before the row commits; when the commit fails, the file has no row.
    The sweep removes such files once they are older than any request could take, and never a
    file whose row is live."""
    deps = wire(runtime).safety_plans
    # File times are the real clock's: run the test clock at the real time (and sign in
    # again, since the fixture's session is from the test clock's default date).
    clock.set(dt.datetime.now(dt.UTC))
    h = auth_header(make_device(db_session, runtime, party.survivor.id)[1])
    db_session.commit()
    with runtime.session_factory() as s:
        lost = attachments.upload(s, _access(party), runtime.clock, deps, data=JPEG)
        s.rollback()  # the commit failed: no row, but the file is on disk
    assert lost.id.hex in _blobs(runtime)
    kept = upload(client, h, JPEG).json
    worker = _worker(runtime)
    worker.run_once()
    assert lost.id.hex in _blobs(runtime), "too young: its request may still be committing"
    clock.advance(minutes=20)
    worker.run_once()
    assert lost.id.hex not in _blobs(runtime)
    assert uuid.UUID(kept["id"]).hex in _blobs(runtime)
    h = auth_header(make_device(db_session, runtime, party.survivor.id)[1])
    db_session.commit()
    got = client.get(f"{UPLOAD}/{kept['id']}", headers=h)
    assert got.status_code == 200
    assert got.data == JPEG


def test_a_failed_commit_after_deleting_an_entry_loses_no_attachment(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    """Blobs are removed only once the deletion has committed: a rolled-back deletion leaves
    the entry and every attachment readable."""
    h = party.survivor_headers
    photo = upload(client, h, JPEG).json
    created = client.post(ENTRIES, json=entry(attachment_ids=[photo["id"]]), headers=h).json
    deps = wire(runtime).safety_plans
    with runtime.session_factory() as s:
        journal.delete_entry(
            s, _access(party), runtime.clock, deps, entry_id=uuid.UUID(created["id"])
        )
        s.rollback()
    got = client.get(f"{UPLOAD}/{photo['id']}", headers=h)
    assert got.status_code == 200
    assert got.data == JPEG
    assert client.delete(f"{ENTRIES}/{created['id']}", headers=h).status_code == 204
    assert uuid.UUID(photo["id"]).hex not in _blobs(runtime), "gone once the deletion commits"


def test_the_sweep_reaches_every_abandoned_upload_in_one_run(
    client: JsonClient,
    party: Party,
    runtime: Runtime,
    clock: FrozenClock,
    db_session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(attachments, "SWEEP_BATCH", 2)
    h = party.survivor_headers
    drafts = [upload(client, h, JPEG).json["id"] for _ in range(5)]
    worker = _worker(runtime)
    worker.run_once()
    clock.advance(hours=24, minutes=1)
    worker.run_once()
    db_session.expire_all()
    rows = db_session.scalars(
        select(JournalAttachment).where(JournalAttachment.id.in_([uuid.UUID(d) for d in drafts]))
    ).all()
    assert len(rows) == 5
    assert all(row.key_enc is None for row in rows)
    assert not _blobs(runtime)
    # Their room is free again.
    used = db_session.scalar(
        select(func.coalesce(func.sum(JournalAttachment.size), 0)).where(
            JournalAttachment.survivor_id == party.survivor.id,
            JournalAttachment.key_enc.is_not(None),
        )
    )
    assert used == 0


def test_the_upload_routes_body_limit_is_the_one_its_setting_documents(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    """LANTERN_ATTACHMENT_MAX_BYTES says: the upload route takes a body of up to the largest
    attachment plus 64 KiB of multipart framing, whatever LANTERN_MAX_BODY_BYTES says."""
    from core.settings import setting_fields

    doc = next(f for f in setting_fields() if f.name == "attachment_max_bytes").metadata["doc"]
    assert "plus 64 KiB" in doc
    change_settings(runtime, attachment_max_bytes=2 * 1024 * 1024)
    limit = 2 * 1024 * 1024 + 64 * 1024
    assert limit > runtime.settings.max_body_bytes

    def post(size: int) -> JsonResponse:
        boundary = "b" * 16
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        body = head + JPEG + b"\x00" * (size - len(head) - len(JPEG) - len(tail)) + tail
        assert len(body) == size
        return client.post(
            UPLOAD,
            data=body,
            headers=party.survivor_headers,
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    assert_refused(post(limit + 1), 413, "payload-too-large")
    assert "request body" in post(limit + 1).get_json()["detail"]
    # A body of exactly the limit is read; the file in it is then over the attachment limit
    # (the framing was padding), which is a refusal of the file, not of the body.
    r = post(limit)
    assert r.status_code == 413
    assert r.get_json()["detail"].startswith("An attachment may be")
    assert post(runtime.settings.attachment_max_bytes).status_code == 201
