"""An outside tester's return visit (issue 12), evidence: forgeries the checks let through.

Written against the commit that closed issue 12; each test fails there and names its finding in
the review report (severity in brackets). The attacks on logins, decoys and settings are in
``tests/test_review_attacks.py``.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core import audit
from core.audit import AuditEvent, AuditHead
from core.crypto import KeyRing
from core.runtime import Runtime
from safety_plans import bundle
from tests.factories import SURVIVOR_PIN, auth_header, make_survivor_account
from tests.json_client import JsonClient
from tests.safety_plans.test_journal import entry

S = "/v1/survivor"


def _session(client: JsonClient, handle: str, pin: str) -> dict[str, str]:
    # As in tests/test_review_attacks.py (the review's other file), without importing its tests.
    r = client.post(
        f"{S}/login",
        json={"account_handle": handle, "pin": pin},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return auth_header(r.json["access_token"])


# --- [high] the audit log's newest events can be cut off, or the whole log emptied -------------


def _some_events(db_session: Session, runtime: Runtime, n: int) -> None:
    for i in range(n):
        audit.record(db_session, runtime.clock, audit.Actor.system(), f"review.event_{i}")
    db_session.commit()


def test_an_audit_log_cut_short_with_its_head_rewound_does_not_verify(
    db_session: Session, runtime: Runtime
) -> None:
    """A database writer (the threat model's leaked credentials, an insider DBA) removes the
    newest events (say, the record of the break-glass read they just made) and moves the
    one-row head back to the event before them. No event is rewritten, so no HMAC is needed."""
    _some_events(db_session, runtime, 6)
    assert audit.verify(db_session).ok
    head = db_session.get(AuditHead, 1, populate_existing=True)
    assert head is not None
    keep = head.last_seq - 3
    kept_hash = db_session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == keep))
    db_session.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
    db_session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_seq=keep, last_hash=kept_hash)
    )
    db_session.commit()

    assert not audit.verify(db_session).ok


def test_an_emptied_audit_log_does_not_verify(db_session: Session, runtime: Runtime) -> None:
    """The extreme cut: every event and the head deleted. ``lantern audit verify`` answers
    "audit chain intact: 0 events"."""
    _some_events(db_session, runtime, 3)
    assert audit.verify(db_session).ok
    db_session.execute(delete(AuditEvent))
    db_session.execute(delete(AuditHead))
    db_session.commit()

    assert not audit.verify(db_session).ok


# --- [medium] a forged entry rides along in a signed bundle -------------------------------------


def _exported_bundle(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> tuple[bytes, list[dict[str, Any]]]:
    _owner, handle = make_survivor_account(db_session, runtime)
    db_session.commit()
    h = _session(client, handle, SURVIVOR_PIN)
    for text in ("He took my keys and my phone.", "He pushed me into the door."):
        assert (
            client.post(f"{S}/journal/entries", json=entry(description=text), headers=h).status_code
            == 201
        )
    r = client.get(f"{S}/journal/export", headers=h)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        entries = json.loads(zf.read("entries.json"))
    return r.data, entries


def _with_member(data: bytes, name: str, payload: bytes, *, first: bool) -> bytes:
    """The zip with one more member called ``name`` (a name it may already hold)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        members = [(i.filename, src.read(i.filename)) for i in src.infolist()]
        added = [(name, payload)]
        with pytest.warns(UserWarning, match="Duplicate name"):
            _write_all(dst, (added + members) if first else (members + added))
    return out.getvalue()


def _write_all(zf: zipfile.ZipFile, members: list[tuple[str, bytes]]) -> None:
    for member, raw in members:
        zf.writestr(member, raw)


def _trusted(keyring: KeyRing) -> list[bundle.TrustedKey]:
    return [(k.key_id, k.public) for k in keyring.evidence_keys]


def test_a_bundle_whose_entries_list_holds_a_forged_copy_of_an_entry_is_not_intact(
    client: JsonClient, db_session: Session, runtime: Runtime, keyring: KeyRing
) -> None:
    """No digest is recomputed and nothing signed is touched: the forger only puts a rewritten
    copy of an entry, under the same id, before the genuine one in ``entries.json``. The
    verifier keys entries by id (the last copy wins) and says "journal intact"; whoever reads
    the file (a lawyer, a court, a JSON viewer listing it) reads the forged text first."""
    data, entries = _exported_bundle(client, db_session, runtime)
    forged = json.loads(json.dumps(entries[1]))
    forged["content"]["description"] = "Nothing happened; I made it up."
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    files["entries.json"] = json.dumps([entries[0], forged, entries[1]], indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, raw in files.items():
            zf.writestr(name, raw)

    report = bundle.verify(io.BytesIO(out.getvalue()), _trusted(keyring))
    assert report.seal.status == bundle.SIGNED  # the signature is genuine...
    assert not report.ok  # ...but the bundle carries an entry no link vouches for


def test_a_bundle_with_a_second_entries_file_of_the_same_name_is_not_intact(
    client: JsonClient, db_session: Session, runtime: Runtime, keyring: KeyRing
) -> None:
    """A zip may hold two members of one name. Python reads the last; many unzip tools and
    file managers show (or extract first, or ask about) the other. The forger puts a rewritten
    ``entries.json`` first and leaves the genuine one last: the verifier checks the genuine one."""
    data, entries = _exported_bundle(client, db_session, runtime)
    forged = json.loads(json.dumps(entries))
    forged[1]["content"]["description"] = "Nothing happened; I made it up."
    doctored = _with_member(data, "entries.json", json.dumps(forged).encode(), first=True)

    report = bundle.verify(io.BytesIO(doctored), _trusted(keyring))
    assert report.seal.status == bundle.SIGNED
    assert not report.ok


def test_a_bundle_carrying_files_no_link_vouches_for_is_not_intact(
    client: JsonClient, db_session: Session, runtime: Runtime, keyring: KeyRing
) -> None:
    """An added photo under ``attachments/``, or a note beside the entries, is not covered by
    any digest, yet verify says "journal intact" of the zip that carries it."""
    data, _entries = _exported_bundle(client, db_session, runtime)
    for name, payload in (
        ("attachments/0f6b7f0e3c1d4e5f8a9b0c1d2e3f4a5b", b"\xff\xd8\xff a planted photo"),
        ("statement.txt", b"I withdraw everything I wrote."),
    ):
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            _write_all(dst, [(i.filename, src.read(i.filename)) for i in src.infolist()])
            dst.writestr(name, payload)
        report = bundle.verify(io.BytesIO(out.getvalue()), _trusted(keyring))
        assert report.seal.status == bundle.SIGNED
        assert not report.ok, f"{name} rides along in an intact bundle"
