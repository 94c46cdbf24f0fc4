"""Journal export bundles (a zip) and their offline verification.

Layout: ``manifest.json`` (every chain link and the head), ``entries.json`` (each entry's full
canonical content, ``null`` for a deleted entry) and ``attachments/<id>`` (the plaintext
files). ``verify`` needs no key and no database: it recomputes every digest and link and
names each entry that is altered, missing or out of the chain.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from auth.permissions import SurvivorAccess
from core import audit
from core.runtime import Runtime
from safety_plans import attachments, chain, journal, profile
from safety_plans.models import JournalAttachment
from safety_plans.storage import AttachmentStorage

FORMAT = "lantern-journal-export/1"


def export(
    session: Session, runtime: Runtime, storage: AttachmentStorage, access: SurvivorAccess
) -> bytes:
    """The survivor's journal as a verifiable zip; the head is also written to the audit log."""
    links: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    last_seq, last_hash = 0, chain.GENESIS
    if not access.decoy:
        profile.require_staff_sharing(session, runtime, access, journal=True)
        sid = access.survivor_id
        for row in journal.chain_rows(session, sid):
            links.append(
                {
                    "seq": row.seq,
                    "id": str(row.id),
                    "entry_type": row.entry_type,
                    "refers_to": str(row.refers_to) if row.refers_to else None,
                    "recorded_at": row.recorded_at.isoformat(),
                    "content_digest": row.content_digest,
                    "prev_hash": row.prev_hash,
                    "chain_hash": row.chain_hash,
                    "deleted": row.deleted_at is not None,
                }
            )
            content = journal.open_content(session, runtime, row)
            entries.append({"id": str(row.id), "content": content})
            for item in (content or {}).get("attachments", []):
                att = session.get(JournalAttachment, uuid.UUID(item["id"]))
                if att is not None and att.key_enc is not None:
                    files[item["id"]] = attachments.read(session, runtime, storage, att)
        last_seq, last_hash = journal.head_of(session, sid)
        # The head in the tamper-evident audit log lets a court compare an export with the
        # server's record even if someone rewrote the whole bundle consistently.
        audit.record(
            session,
            runtime.clock,
            access.actor,
            "journal.exported",
            subject_kind="journal",
            survivor_id=sid,
            details={"last_seq": last_seq, "head_hash": last_hash},
        )
    manifest = {
        "format": FORMAT,
        "exported_at": runtime.clock.now().isoformat(),
        "links": links,
        "head": {"last_seq": last_seq, "last_hash": last_hash},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
        zf.writestr(
            "entries.json", json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False)
        )
        for name, data in sorted(files.items()):
            zf.writestr(f"attachments/{name}", data)
    return buffer.getvalue()


@dataclass
class Report:
    checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry id or seq, reason)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, who: str, reason: str) -> None:
        self.problems.append((who, reason))


def _load(zf: zipfile.ZipFile, name: str, report: Report) -> Any:
    try:
        return json.loads(zf.read(name))
    except KeyError:
        report.fail("bundle", f"{name} is missing")
    except ValueError:
        report.fail("bundle", f"{name} is not valid JSON")
    return None


def verify(source: str | Path | IO[bytes]) -> Report:
    """Check a bundle offline; the report names every altered, missing or unchained entry."""
    report = Report()
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        report.fail("bundle", "not a readable zip file")
        return report
    with zf:
        manifest = _load(zf, "manifest.json", report)
        entries = _load(zf, "entries.json", report)
        if manifest is None or entries is None:
            return report
        try:
            _check(zf, manifest, entries, report)
        except (KeyError, TypeError, ValueError, AttributeError):
            report.fail("bundle", "manifest or entries are malformed")
    return report


def _check(
    zf: zipfile.ZipFile, manifest: dict[str, Any], entries: list[Any], report: Report
) -> None:
    if manifest.get("format") != FORMAT:
        report.fail("bundle", "unknown bundle format")
        return
    by_id = {str(e["id"]): e.get("content") for e in entries}
    links = sorted(manifest["links"], key=lambda link: link["seq"])
    prev_hash, expected_seq = chain.GENESIS, 1
    deleted_by_tombstone = {link["refers_to"] for link in links if link["entry_type"] == "deletion"}
    for link in links:
        who = str(link["id"])
        if link["seq"] != expected_seq:
            report.fail(f"seq {expected_seq}", "entry missing from the chain (next is " + who + ")")
        if link["prev_hash"] != prev_hash:
            report.fail(who, "link to the previous entry is broken")
        if chain.link_hash(link["prev_hash"], link) != link["chain_hash"]:
            report.fail(who, "chain link altered")
        prev_hash, expected_seq = link["chain_hash"], link["seq"] + 1
        report.checked += 1
        if who not in by_id:
            report.fail(who, "entry missing from the bundle")
            continue
        content = by_id.pop(who)
        if content is None:
            if not link.get("deleted") or who not in deleted_by_tombstone:
                report.fail(who, "entry content missing")
            continue
        if chain.content_digest(content) != link["content_digest"]:
            report.fail(who, "entry altered")
            continue
        for item in content.get("attachments", []):
            try:
                data = zf.read(f"attachments/{item['id']}")
            except KeyError:
                report.fail(who, f"attachment {item['id']} missing")
                continue
            if chain.sha256_hex(data) != item["sha256"]:
                report.fail(who, f"attachment {item['id']} altered")
    head = manifest["head"]
    if head["last_seq"] != expected_seq - 1 or head["last_hash"] != prev_hash:
        report.fail("head", "the newest entries are missing or the head was altered")
    for extra in by_id:
        report.fail(extra, "entry is not in the chain")
