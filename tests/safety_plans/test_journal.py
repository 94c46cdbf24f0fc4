"""Evidence journal: sealed immutable entries, corrections, attachments, deletion, sharing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.runtime import Runtime
from safety_plans import chain
from safety_plans.models import JournalAttachment, JournalEntry
from tests.factories import auth_header, make_device
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party, change_settings

ENTRIES = "/v1/survivor/journal/entries"
UPLOAD = "/v1/survivor/journal/attachments"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"photo-bytes" * 10
PDF = b"%PDF-1.7\n" + b"document" * 10


def entry(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_text": "last Friday night, after the football",
        "kinds": ["physical_violence", "using_intimidation"],
        "description": "He pushed me into the door.",
        "injuries": "bruised arm",
        "witnesses": "neighbour at no. 4",
        "police_reference": "CAD 1234",
    }
    body.update(overrides)
    return body


def upload(client: JsonClient, headers: dict[str, str], data: bytes, name: str = "x.bin") -> Any:
    return client.post(
        UPLOAD,
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_entry_is_recorded_with_server_time_and_chained(
    client: JsonClient, party: Party, db_session: Session, runtime: Runtime
) -> None:
    r = client.post(ENTRIES, json=entry(occurred_on="2026-01-02"), headers=party.survivor_headers)
    assert r.status_code == 201, r.json
    assert r.json["recorded_at"].startswith(runtime.clock.now().isoformat()[:19])
    assert r.json["occurred_on"] == "2026-01-02"
    assert r.json["seq"] == 1
    assert r.json["kinds"] == ["using_intimidation", "physical_violence"]
    second = client.post(ENTRIES, json=entry(description="again"), headers=party.survivor_headers)
    rows = db_session.scalars(select(JournalEntry).order_by(JournalEntry.seq)).all()
    assert [row.seq for row in rows] == [1, 2]
    assert rows[0].prev_hash == chain.GENESIS
    assert rows[1].prev_hash == rows[0].chain_hash
    listed = client.get(ENTRIES, headers=party.survivor_headers).json["entries"]
    assert [e["id"] for e in listed] == [r.json["id"], second.json["id"]]
    assert client.get(f"{ENTRIES}/{r.json['id']}", headers=party.survivor_headers).json[
        "witnesses"
    ] == ("neighbour at no. 4")


def test_entry_validation(client: JsonClient, party: Party) -> None:
    h = party.survivor_headers
    assert client.post(ENTRIES, json=entry(occurred_text=None), headers=h).status_code == 422
    assert client.post(ENTRIES, json=entry(kinds=["bad_mood"]), headers=h).status_code == 422
    # The test clock is 2026-01-05; the day after is allowed (time zones), later is not.
    assert client.post(ENTRIES, json=entry(occurred_on="2026-01-07"), headers=h).status_code == 422
    assert client.post(ENTRIES, json=entry(occurred_on="2026-01-06"), headers=h).status_code == 201
    assert client.post(ENTRIES, json=entry(kinds=[]), headers=h).status_code == 422
    assert (
        client.post(ENTRIES, json=entry(police_reference="x" * 101), headers=h).status_code == 422
    )
    assert (
        client.post(
            ENTRIES, json=entry(amends="7d1c1b8e-0000-4000-8000-000000000000"), headers=h
        ).status_code
        == 422
    )


def test_entries_are_immutable_and_corrections_reference_the_original(
    client: JsonClient, party: Party
) -> None:
    first = client.post(ENTRIES, json=entry(), headers=party.survivor_headers).json
    url = f"{ENTRIES}/{first['id']}"
    assert client.put(url, json=entry(), headers=party.survivor_headers).status_code == 405
    assert client.patch(url, json=entry(), headers=party.survivor_headers).status_code == 405
    fix = client.post(
        ENTRIES,
        json=entry(description="It was Saturday.", amends=first["id"]),
        headers=party.survivor_headers,
    ).json
    assert fix["refers_to"] == first["id"]
    original = client.get(url, headers=party.survivor_headers).json
    assert original["description"] == "He pushed me into the door."
    assert original["amended_by"] == [fix["id"]]


def test_attachments_checked_by_content_sealed_and_fetched_by_id(
    client: JsonClient, party: Party, runtime: Runtime, db_session: Session
) -> None:
    h = party.survivor_headers
    assert upload(client, h, b"MZ\x90\x00 not a photo", "photo.jpg").status_code == 415
    assert upload(client, h, b"", "empty.jpg").status_code == 422
    limit = runtime.settings.attachment_max_bytes
    change_settings(runtime, attachment_max_bytes=len(JPEG) + 10)
    assert upload(client, h, JPEG + b"\x00" * 11).status_code == 413
    assert upload(client, h, JPEG + b"\x00" * 10).status_code == 201
    change_settings(runtime, attachment_max_bytes=limit)
    photo = upload(client, h, JPEG, "evil.pdf")
    assert photo.status_code == 201, photo.json
    assert photo.json["media_type"] == "image/jpeg"  # the content decides, not the name
    doc = upload(client, h, PDF).json
    created = client.post(
        ENTRIES, json=entry(attachment_ids=[photo.json["id"], doc["id"]]), headers=h
    )
    assert [a["media_type"] for a in created.json["attachments"]] == [
        "image/jpeg",
        "application/pdf",
    ]
    got = client.get(f"{UPLOAD}/{photo.json['id']}", headers=h)
    assert got.status_code == 200
    assert got.data == JPEG
    assert got.mimetype == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment")
    # The stored blob is ciphertext.
    stored = list(
        (Path(runtime.settings.instance_path) / "attachments").rglob(
            photo.json["id"].replace("-", "")
        )
    )
    assert len(stored) == 1
    assert b"photo-bytes" not in stored[0].read_bytes()
    # An attachment belongs to one entry only.
    again = client.post(ENTRIES, json=entry(attachment_ids=[photo.json["id"]]), headers=h)
    assert again.status_code == 422
    # The advocate sees nothing until the survivor shares the journal.
    staff = f"/v1/staff/survivors/{party.survivor.id}/journal"
    assert client.get(staff + "/entries", headers=party.advocate_headers).status_code == 404
    assert (
        client.get(
            f"{staff}/attachments/{photo.json['id']}", headers=party.advocate_headers
        ).status_code
        == 404
    )
    client.patch("/v1/survivor/advocate-sharing", json={"journal_shared": True}, headers=h)
    assert len(client.get(staff + "/entries", headers=party.advocate_headers).json["entries"]) == 1
    assert (
        client.get(f"{staff}/attachments/{photo.json['id']}", headers=party.advocate_headers).data
        == JPEG
    )
    read = db_session.scalars(
        select(AuditEvent).where(AuditEvent.subject_kind == "journal_attachment")
    ).one()
    assert (read.action, str(read.subject_id), read.actor_id) == (
        "journal.read",
        photo.json["id"],
        party.advocate.id,
    )
    # Staff cannot write the survivor's journal: there is no such route.
    assert (
        client.post(staff + "/entries", json=entry(), headers=party.advocate_headers).status_code
        == 405
    )


def test_delete_shreds_attachments_and_the_chain_records_it(
    client: JsonClient, party: Party, runtime: Runtime, db_session: Session
) -> None:
    h = party.survivor_headers
    photo = upload(client, h, JPEG).json
    doomed = client.post(ENTRIES, json=entry(attachment_ids=[photo["id"]]), headers=h).json
    kept = client.post(ENTRIES, json=entry(description="kept"), headers=h).json
    assert client.delete(f"{ENTRIES}/{doomed['id']}", headers=h).status_code == 204
    assert client.delete(f"{ENTRIES}/{doomed['id']}", headers=h).status_code == 404
    amend = client.post(ENTRIES, json=entry(amends=doomed["id"]), headers=h)
    assert amend.status_code == 422, "a deleted entry cannot be amended"
    listed = client.get(ENTRIES, headers=h).json["entries"]
    assert [(e["seq"], e["entry_type"], e["deleted"]) for e in listed] == [
        (1, "entry", True),
        (2, "entry", False),
        (3, "deletion", False),
    ]
    assert listed[2]["refers_to"] == doomed["id"]
    assert "description" not in listed[0]
    assert listed[1]["description"] == "kept"
    assert kept["id"] == listed[1]["id"]
    assert client.get(f"{UPLOAD}/{photo['id']}", headers=h).status_code == 404
    row = db_session.get(JournalAttachment, __import__("uuid").UUID(photo["id"]))
    assert row is not None
    assert row.key_enc is None
    assert row.shredded_at is not None
    assert not list(
        (Path(runtime.settings.instance_path) / "attachments").rglob(photo["id"].replace("-", ""))
    )
    gone = db_session.get(JournalEntry, __import__("uuid").UUID(doomed["id"]))
    assert gone is not None
    assert gone.content_enc is None


def test_abandoned_uploads_are_shredded_by_the_periodic_sweep(
    client: JsonClient, party: Party, runtime: Runtime, clock: FrozenClock, db_session: Session
) -> None:
    from api.wiring import wire
    from core.jobs import JobRegistry
    from core.worker import Worker
    from safety_plans.wiring import register_jobs

    h = party.survivor_headers
    draft = upload(client, h, JPEG).json
    kept = upload(client, h, PDF).json
    client.post(ENTRIES, json=entry(attachment_ids=[kept["id"]]), headers=h)
    registry = JobRegistry()
    wiring = wire(runtime)
    register_jobs(registry, wiring.safety_plans, wiring.hooks.high_risk)
    worker = Worker(runtime.session_factory, registry, runtime.clock)
    worker.run_once()  # too young to sweep
    assert client.get(f"{UPLOAD}/{draft['id']}", headers=h).status_code == 200
    clock.advance(hours=25)
    worker.run_once()
    h = auth_header(make_device(db_session, runtime, party.survivor.id)[1])  # a fresh session
    db_session.commit()
    assert client.get(f"{UPLOAD}/{draft['id']}", headers=h).status_code == 404
    assert client.get(f"{UPLOAD}/{kept['id']}", headers=h).data == PDF
    db_session.expire_all()
    swept = db_session.get(JournalAttachment, __import__("uuid").UUID(draft["id"]))
    assert swept is not None
    assert swept.key_enc is None


def _upload_big(client: JsonClient, headers: dict[str, str], data: bytes) -> Any:
    # Encoded in memory: the test client would otherwise spool a large body to a temporary
    # file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename="x.bin")})
    return client.post(
        UPLOAD, data=body, headers=headers, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_a_photo_larger_than_the_json_body_cap_uploads(
    client: JsonClient, party: Party, runtime: Runtime
) -> None:
    """Attachments have their own limit: a 3 MiB phone photo is not refused by the 1 MiB
    cap every JSON endpoint keeps."""
    h = party.survivor_headers
    photo = JPEG + b"\x00" * (3 * 1024 * 1024)
    assert runtime.settings.max_body_bytes < len(photo) < runtime.settings.attachment_max_bytes
    r = _upload_big(client, h, photo)
    assert r.status_code == 201, r.json
    # Still capped: a body over the attachment limit is refused before it is read.
    over = JPEG + b"\x00" * (runtime.settings.attachment_max_bytes + 128 * 1024)
    assert _upload_big(client, h, over).status_code == 413
    # JSON endpoints keep the small cap.
    big_json = entry(description="x" * (runtime.settings.max_body_bytes + 10))
    assert client.post(ENTRIES, json=big_json, headers=h).status_code == 413
