"""Journal export: a zip that `lantern journal verify` checks offline, naming any tampering."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli import main
from core.audit import AuditEvent
from core.crypto import KeyRing, b64encode
from safety_plans.bundle import SIGNED, TrustedKey, verify
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party
from tests.safety_plans.test_journal import ENTRIES, JPEG, entry, upload

EXPORT = "/v1/survivor/journal/export"


def trusted(ring: KeyRing) -> list[TrustedKey]:
    """The service's public evidence keys, as a verifier who trusts them holds them."""
    return [(k.key_id, k.public) for k in ring.evidence_keys]


def key_options(ring: KeyRing) -> list[str]:
    """`--key ID:BASE64URL` for each public evidence key, as a court would pass them."""
    return [f"--key={k.key_id}:{b64encode(k.public)}" for k in ring.evidence_keys]


def _journal(client: JsonClient, party: Party) -> list[dict[str, Any]]:
    h = party.survivor_headers
    photo = upload(client, h, JPEG).json
    made = [
        client.post(ENTRIES, json=entry(description=f"entry {i}"), headers=h).json for i in range(3)
    ]
    made.append(client.post(ENTRIES, json=entry(attachment_ids=[photo["id"]]), headers=h).json)
    doomed = client.post(ENTRIES, json=entry(description="to delete"), headers=h).json
    client.delete(f"{ENTRIES}/{doomed['id']}", headers=h)
    return made


def _rewrite(bundle: bytes, change: Any) -> bytes:
    """A copy of the zip with ``change(name, data) -> data | None`` applied (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = change(name, src.read(name))
            if data is not None:
                dst.writestr(name, data)
    return out.getvalue()


def test_export_verifies_and_records_head_in_audit(
    client: JsonClient, party: Party, db_session: Session, tmp_path: Path, keyring: KeyRing
) -> None:
    _journal(client, party)
    r = client.get(EXPORT, headers=party.survivor_headers)
    assert r.status_code == 200
    assert r.mimetype == "application/zip"
    report = verify(io.BytesIO(r.data), trusted(keyring))
    assert report.ok, (report.problems, report.seal)
    assert report.seal.status == SIGNED
    assert report.seal.key_id == keyring.signing_key.key_id
    assert report.checked == 6  # five entries and one deletion link
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert len([n for n in zf.namelist() if n.startswith("attachments/")]) == 1
        manifest = json.loads(zf.read("manifest.json"))
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "journal.exported")
    ).one()
    assert event.details == {"last_seq": 6, "head_hash": manifest["head"]["last_hash"]}
    path = tmp_path / "journal.zip"
    path.write_bytes(r.data)
    result = CliRunner().invoke(main, ["journal", "verify", str(path), *key_options(keyring)])
    assert result.exit_code == 0, result.output
    assert "6 chain links verified" in result.output
    assert f"signed by trusted key {keyring.signing_key.key_id}" in result.output


def test_one_changed_byte_fails_and_names_the_entry(
    client: JsonClient, party: Party, tmp_path: Path, keyring: KeyRing
) -> None:
    made = _journal(client, party)
    bundle = client.get(EXPORT, headers=party.survivor_headers).data
    target = made[1]["id"]

    def flip(name: str, data: bytes) -> bytes:
        if name != "entries.json":
            return data
        marker = b'"entry 1"'
        at = data.index(marker) + 2
        return data[:at] + b"E" + data[at + 1 :]  # "entry 1" -> "Entry 1": one byte

    report = verify(io.BytesIO(_rewrite(bundle, flip)))
    assert report.problems == [(target, "entry altered")]
    path = tmp_path / "tampered.zip"
    path.write_bytes(_rewrite(bundle, flip))
    result = CliRunner().invoke(main, ["journal", "verify", str(path), *key_options(keyring)])
    # The manifest is untouched, so its signature holds: the chain names the altered entry.
    assert result.exit_code == 1
    assert f"{target}: entry altered" in result.output


def test_changed_attachment_byte_names_the_entry(client: JsonClient, party: Party) -> None:
    made = _journal(client, party)
    bundle = client.get(EXPORT, headers=party.survivor_headers).data
    photo_id = made[3]["attachments"][0]["id"]

    def flip(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("attachments/") else data

    report = verify(io.BytesIO(_rewrite(bundle, flip)))
    assert report.problems == [(made[3]["id"], f"attachment {photo_id} altered")]


def test_removed_entry_fails_and_names_it(client: JsonClient, party: Party) -> None:
    made = _journal(client, party)
    bundle = client.get(EXPORT, headers=party.survivor_headers).data
    target = made[2]["id"]

    def drop_entry(name: str, data: bytes) -> bytes:
        if name != "entries.json":
            return data
        return json.dumps([e for e in json.loads(data) if e["id"] != target]).encode()

    report = verify(io.BytesIO(_rewrite(bundle, drop_entry)))
    assert report.problems == [(target, "entry missing from the bundle")]

    def drop_everywhere(name: str, data: bytes) -> bytes:
        doc: Any = json.loads(data) if name.endswith(".json") else None
        if name == "entries.json":
            return json.dumps([e for e in doc if e["id"] != target]).encode()
        if name == "manifest.json":
            doc["links"] = [link for link in doc["links"] if link["id"] != target]
            return json.dumps(doc).encode()
        return data

    report = verify(io.BytesIO(_rewrite(bundle, drop_everywhere)))
    following = made[3]["id"]
    assert ("seq 3", f"entry missing from the chain (next is {following})") in report.problems
    assert (following, "link to the previous entry is broken") in report.problems


def test_removing_the_newest_link_is_detected(client: JsonClient, party: Party) -> None:
    _journal(client, party)
    bundle = client.get(EXPORT, headers=party.survivor_headers).data

    def drop_last(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        doc = json.loads(data)
        doc["links"] = doc["links"][:-1]
        return json.dumps(doc).encode()

    report = verify(io.BytesIO(_rewrite(bundle, drop_last)))
    assert ("head", "the newest entries are missing or the head was altered") in report.problems


def test_garbage_is_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    assert verify(path).problems == [("bundle", "not a readable zip file")]
