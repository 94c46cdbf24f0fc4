"""A raw dump of the database (and the attachment store) holds none of what survivors wrote.

Everything is written through the HTTP API into a database of the test's own with real
commits; then SQLite's file bytes (database and WAL) and its SQL dump, or every column of every
PostgreSQL table cast to text, are searched for canary strings: zero hits.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, make_url, text

from api.app import create_app
from api.registry import load_models
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import Base, make_engine
from core.runtime import build_runtime
from tests.conftest import make_settings
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.safety_plans.test_instruments import dash_answers

CANARIES = {
    "plan": "CANARY-PLAN-7f3a",
    "code_word": "CANARY-CODEWORD-51c2",
    "decoy": "CANARY-DECOY-90be",
    "description": "CANARY-DESCRIPTION-2d41",
    "injuries": "CANARY-INJURY-e813",
    "witnesses": "CANARY-WITNESS-4c07",
    "police": "CANARY-POLICE-a5f9",
    "when": "CANARY-WHEN-b362",
    "photo": "CANARY-PHOTO-0c1d",
    "assessment_notes": "CANARY-ASSESSMENT-NOTES-6e2f",
}


def _dump(url: str, engine: Engine) -> bytes:
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        with sqlite3.connect(path) as conn:
            raw += "\n".join(conn.iterdump()).encode()
        return raw
    load_models()
    chunks: list[str] = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT t::text FROM "{table.name}" t')).scalars()
            chunks.extend(rows)
    return "\n".join(chunks).encode()


def test_database_dump_contains_no_plaintext(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> None:
    engine = make_engine(committed_db)
    runtime = build_runtime(
        make_settings(tmp_path, committed_db, keyring),
        clock=FrozenClock(),
        engine=engine,
        keyring=keyring,
        hasher=fast_hasher,
    )
    try:
        with runtime.session_factory() as s:
            advocate, staff_token = make_staff(s, runtime)
            survivor, token = make_survivor(s, runtime, advocate=advocate)
            s.commit()
        client = JsonClient(create_app(runtime.settings, runtime=runtime))
        h, staff = auth_header(token), auth_header(staff_token)

        plan = client.get("/v1/survivor/safety-plan", headers=h)
        sections = plan.json["sections"]
        sections["notes"] = [{"text": CANARIES["plan"]}]
        sections["safe_contacts"] = [{"text": "Aunt", "code_word": CANARIES["code_word"]}]
        r = client.put(
            "/v1/survivor/safety-plan",
            json={"sections": sections},
            headers=h | {"If-Match": plan.headers["ETag"]},
        )
        assert r.status_code == 200
        decoy = dict(sections) | {"notes": [{"text": CANARIES["decoy"]}], "safe_contacts": []}
        assert (
            client.put("/v1/survivor/decoy-plan", json={"sections": decoy}, headers=h).status_code
            == 200
        )
        assert (
            client.put(
                "/v1/survivor/priorities", json={"priorities": ["staying_or_leaving"]}, headers=h
            ).status_code
            == 200
        )
        for who, headers in (("survivor", h), ("staff", staff)):
            url = (
                "/v1/survivor/assessments"
                if who == "survivor"
                else f"/v1/staff/survivors/{survivor.id}/assessments"
            )
            body = {
                "instrument_id": "dash",
                "answers": dash_answers(15, incidents=4),
                "notes": CANARIES["assessment_notes"],
            }
            assert client.post(url, json=body, headers=headers).status_code == 201
        photo = client.post(
            "/v1/survivor/journal/attachments",
            data={"file": (io.BytesIO(b"\xff\xd8\xff\xe0" + CANARIES["photo"].encode()), "p.jpg")},
            headers=h,
            content_type="multipart/form-data",
        )
        assert photo.status_code == 201
        entry = {
            "occurred_text": CANARIES["when"],
            "kinds": ["stalking"],
            "description": CANARIES["description"],
            "injuries": CANARIES["injuries"],
            "witnesses": CANARIES["witnesses"],
            "police_reference": CANARIES["police"],
            "attachment_ids": [photo.json["id"]],
        }
        assert client.post("/v1/survivor/journal/entries", json=entry, headers=h).status_code == 201
        # The content is really there (readable through the API), so a miss below means sealed.
        listed = client.get("/v1/survivor/journal/entries", headers=h).get_data(as_text=True)
        assert CANARIES["description"] in listed

        dump = _dump(committed_db, engine)
        # The dump really holds the tables' contents: a value stored in clear is found.
        assert advocate.email.encode() in dump
        found = {name: value for name, value in CANARIES.items() if value.encode() in dump}
        assert found == {}, f"plaintext at rest: {sorted(found)}"
        store = Path(runtime.settings.instance_path) / "attachments"
        blobs = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
        assert blobs
        assert CANARIES["photo"].encode() not in blobs
    finally:
        engine.dispose()
