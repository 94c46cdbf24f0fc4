"""Journal export bundles (a zip) and their offline verification.

Layout: ``manifest.json`` (every chain link and the head), ``signature.json`` (the service's
Ed25519 signature of ``manifest.json``'s exact bytes, with the signing key's id and public
half), ``entries.json`` (each entry's full canonical content, ``null`` for a deleted entry) and
``attachments/<id>`` (the plaintext files).

``verify`` needs no database and no secret: it recomputes every digest and link and names each
entry that is altered, missing or out of the chain. Nothing unchecked may ride along in a bundle
that verifies: a zip member of a name another member has (zip tools differ on which copy they
show), a file other than those four kinds, an attachment no entry lists, a second copy of an
entry, a key repeated within a JSON object (parsers differ on which value they keep) or a field
outside an entry's chained content is each a chain problem.

The chain proves order, not origin (anyone can build a consistent chain), so ``verify`` also
checks the signature against public keys the verifier trusts (given by hand, or published by
Lantern at ``GET /v1/evidence-keys`` and pinned): the manifest holds every link and digest, so
its signature covers every entry and attachment.
"""

from __future__ import annotations

import collections
import io
import json
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from core import audit, crypto
from core.clock import Clock
from safety_plans import attachments, chain, journal, profile
from safety_plans.deps import SafetyPlansDeps
from safety_plans.models import JournalAttachment

FORMAT = "lantern-journal-export/1"
SIGNATURE_FORMAT = "lantern-journal-signature/1"
SIGNED_FILE = "manifest.json"
SIGNATURE_FILE = "signature.json"
ENTRIES_FILE = "entries.json"
ATTACHMENTS_DIR = "attachments/"
# The fields of an entries.json item and of signature.json: anything else is unchecked text.
_ENTRY_FIELDS = frozenset({"id", "content"})
_SIGNATURE_FIELDS = frozenset(
    {"format", "signed_file", "algorithm", "key_id", "public_key", "signature"}
)

# What the signature check found (the CLI's exit code follows it).
SIGNED = "signed"  # by a trusted key
FORGED = "forged"  # the signature does not match the manifest
RESIGNED = "re-signed"  # a valid signature, by a key that is not trusted
UNSIGNED = "unsigned"  # no signature: never signed, or stripped
NOT_CHECKED = "not checked"  # no trusted key was given

# A public key the verifier trusts, with the key id it is trusted under (None: any id, as for
# a PEM file, which names none).
TrustedKey = tuple[str | None, bytes]


def export(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    keyring: crypto.KeyRing,
) -> bytes:
    """The survivor's journal as a verifiable zip, signed by ``keyring``'s current evidence
    key; the head is also written to the audit log."""
    links: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    profile.require_staff_sharing(session, access, clock, journal=True)
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
        content = journal.open_content(session, deps, row)
        entries.append({"id": str(row.id), "content": content})
        for item in (content or {}).get("attachments", []):
            att = session.get(JournalAttachment, uuid.UUID(item["id"]))
            if att is not None and att.key_enc is not None:
                files[item["id"]] = attachments.read(session, deps, att)
    last_seq, last_hash = journal.head_of(session, sid)
    # The head in the tamper-evident audit log lets a court compare an export with the
    # server's record even if someone rewrote the whole bundle consistently.
    audit.record(
        session,
        clock,
        access.actor,
        "journal.exported",
        subject_kind="journal",
        survivor_id=sid,
        details={"last_seq": last_seq, "head_hash": last_hash},
    )
    # A decoy session exports its decoy account's journal, signed like any other: from the
    # phone, nothing may tell it apart from a real one.
    key = keyring.signing_key
    manifest = {
        "format": FORMAT,
        "exported_at": clock.now().isoformat(),
        "links": links,
        "head": {"last_seq": last_seq, "last_hash": last_hash},
        "signed_by": {"key_id": key.key_id, "algorithm": crypto.EVIDENCE_ALGORITHM},
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature = {
        "format": SIGNATURE_FORMAT,
        "signed_file": SIGNED_FILE,
        "algorithm": crypto.EVIDENCE_ALGORITHM,
        "key_id": key.key_id,
        "public_key": crypto.b64encode(key.public),
        "signature": crypto.b64encode(key.sign(manifest_bytes)),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(SIGNED_FILE, manifest_bytes)
        zf.writestr(SIGNATURE_FILE, json.dumps(signature, indent=2, sort_keys=True))
        zf.writestr(ENTRIES_FILE, json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False))
        for name, data in sorted(files.items()):
            zf.writestr(ATTACHMENTS_DIR + name, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class Seal:
    """What the signature check found: a status above, the key id it names, and why."""

    status: str
    key_id: str | None = None
    detail: str = ""


@dataclass
class Report:
    checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry id or seq, reason)
    seal: Seal = field(default_factory=lambda: Seal(NOT_CHECKED))

    @property
    def chain_ok(self) -> bool:
        return not self.problems

    @property
    def ok(self) -> bool:
        """The chain holds and a trusted key signed it."""
        return self.chain_ok and self.seal.status == SIGNED

    def fail(self, who: str, reason: str) -> None:
        self.problems.append((who, reason))


class DuplicateKey(ValueError):
    """A JSON object names one key twice: one reader would see one value, another the other."""

    def __init__(self, key: str) -> None:
        super().__init__(f"repeats the key {key!r} within one object")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A JSON object of a bundle being checked: whatever it holds, hence a free-form dict.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def loads_strict(data: bytes | str) -> Any:
    """JSON as every reader sees it alike: a key repeated within an object is refused."""
    return json.loads(data, object_pairs_hook=_unique_keys)


def _load(zf: zipfile.ZipFile, name: str, report: Report) -> Any:
    try:
        return loads_strict(zf.read(name))
    except KeyError:
        report.fail("bundle", f"{name} is missing")
    except DuplicateKey as exc:
        report.fail("bundle", f"{name} {exc}")
    except (ValueError, RecursionError):
        report.fail("bundle", f"{name} is not valid JSON")
    return None


def verify(source: str | Path | IO[bytes], trusted: Sequence[TrustedKey] | None = None) -> Report:
    """Check a bundle offline; the report names every altered, missing or unchained entry and
    every file or field no link vouches for, and, with ``trusted`` keys, whether one of them
    signed it."""
    report = Report()
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        report.fail("bundle", "not a readable zip file")
        return report
    with zf:
        _check_names(zf, report)
        if trusted is not None:
            report.seal = _check_seal(zf, trusted)
        manifest = _load(zf, SIGNED_FILE, report)
        entries = _load(zf, ENTRIES_FILE, report)
        if SIGNATURE_FILE in zf.namelist():
            _check_signature_fields(_load(zf, SIGNATURE_FILE, report), report)
        if manifest is None or entries is None:
            return report
        try:
            _check(zf, manifest, entries, report)
            _check_members(zf, entries, report)
        except (KeyError, TypeError, ValueError, AttributeError):
            report.fail("bundle", "manifest or entries are malformed")
    return report


def _check_names(zf: zipfile.ZipFile, report: Report) -> None:
    """Each member once, and no text in the zip's comments (neither is covered by a link)."""
    counts = collections.Counter(info.filename for info in zf.infolist())
    for name, count in counts.items():
        if count > 1:
            report.fail("bundle", f"the zip holds {count} files named {name!r}")
    if zf.comment or any(info.comment for info in zf.infolist()):
        report.fail("bundle", "the zip carries a comment, which no link covers")


def _check_signature_fields(doc: Any, report: Report) -> None:
    if isinstance(doc, dict) and (fields := sorted(set(doc) - _SIGNATURE_FIELDS)):
        report.fail("bundle", f"{SIGNATURE_FILE} carries fields no signature covers: {fields}")


def _check_members(zf: zipfile.ZipFile, entries: list[Any], report: Report) -> None:
    """Refuse every file other than the manifest, the signature, the entries and the
    attachments the entries list: nothing in the chain vouches for it."""
    allowed = {SIGNED_FILE, SIGNATURE_FILE, ENTRIES_FILE}
    for item in entries:
        for attachment in (item.get("content") or {}).get("attachments", []):
            allowed.add(ATTACHMENTS_DIR + str(attachment["id"]))
    for info in zf.infolist():
        # The folder itself, as a zip tool re-packing an extracted bundle may list it.
        folder = info.filename == ATTACHMENTS_DIR and info.is_dir() and info.file_size == 0
        if info.filename not in allowed and not folder:
            report.fail(info.filename, "a file no entry lists: no link or signature covers it")


def _check_seal(zf: zipfile.ZipFile, trusted: Sequence[TrustedKey]) -> Seal:
    try:
        signed = zf.read(SIGNED_FILE)
        raw = zf.read(SIGNATURE_FILE)
    except KeyError:
        return Seal(UNSIGNED, detail="the bundle carries no signature")
    try:
        doc = loads_strict(raw)
        if not doc.get("signature"):
            return Seal(UNSIGNED, detail="the signature has been removed")
        key_id = str(doc["key_id"])
        signature = crypto.b64decode(doc["signature"])
        embedded = crypto.b64decode(doc["public_key"])
        manifest = loads_strict(signed)
        signed_by = manifest.get("signed_by") or {}
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return Seal(FORGED, detail="signature does not match (the signature is malformed)")
    if doc.get("algorithm") != crypto.EVIDENCE_ALGORITHM:
        return Seal(FORGED, key_id, "signature does not match (unknown algorithm)")
    if any(
        crypto.verify_evidence(public, signature, signed)
        for trusted_id, public in trusted
        if trusted_id in (None, key_id)
    ):
        if signed_by.get("key_id") != key_id:
            return Seal(FORGED, key_id, "signature does not match (the key ids differ)")
        return Seal(SIGNED, key_id, f"signed by trusted key {key_id}")
    if crypto.verify_evidence(embedded, signature, signed):
        # Someone made a consistent bundle and signed it with a key of their own (or a
        # Lantern key the verifier does not trust yet: the message says which).
        return Seal(
            RESIGNED,
            key_id,
            f"re-signed: a valid signature by a key that is not trusted (key id {key_id!r}, "
            f"public key {doc['public_key']})",
        )
    return Seal(FORGED, key_id, "signature does not match: the manifest was altered")


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """An evidence key's public half as ``GET /v1/evidence-keys`` lists it."""

    key_id: str
    algorithm: str
    public_key: str  # base64url of the raw 32 bytes
    public_key_pem: str
    current: bool  # signs new exports


def published_keys(ring: crypto.KeyRing) -> list[PublishedKey]:
    """Every evidence key's public half, for ``GET /v1/evidence-keys`` (never a private one)."""
    return [
        PublishedKey(
            key_id=key.key_id,
            algorithm=crypto.EVIDENCE_ALGORITHM,
            public_key=crypto.b64encode(key.public),
            public_key_pem=key.public_pem(),
            current=key.key_id == ring.signing_key.key_id,
        )
        for key in ring.evidence_keys
    ]


def public_keys(document: Any) -> list[TrustedKey]:
    """Public keys by key id from a ``GET /v1/evidence-keys`` document (or a pin file's copy).

    Raises ValueError on anything else, so that no malformed key is ever trusted.
    """
    try:
        keys: list[TrustedKey] = []
        for item in document["keys"]:
            if item["algorithm"] != crypto.EVIDENCE_ALGORITHM:
                raise ValueError(f"unknown algorithm {item['algorithm']!r}")
            public = crypto.b64decode(str(item["public_key"]))
            if len(public) != crypto.KEY_BYTES:
                raise ValueError("a public key is not 32 bytes")
            keys.append((str(item["key_id"]), public))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError("not a list of Lantern evidence keys") from exc
    if not keys:
        raise ValueError("no evidence keys")
    return keys


def _check(
    zf: zipfile.ZipFile, manifest: dict[str, Any], entries: list[Any], report: Report
) -> None:
    if manifest.get("format") != FORMAT:
        report.fail("bundle", "unknown bundle format")
        return
    by_id: dict[str, Any] = {}
    for item in entries:
        who = str(item["id"])
        if fields := sorted(set(item) - _ENTRY_FIELDS):
            report.fail(who, f"entry carries fields outside the chain: {fields}")
        if who in by_id:
            # Only one copy can match the digest; a reader may see the other first.
            report.fail(who, "entry appears more than once in entries.json")
        by_id.setdefault(who, item.get("content"))
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
