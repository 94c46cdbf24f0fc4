"""Journal attachments: type checked by content, size bounded, sealed, fetched only by id.

Each blob is encrypted under its own random key, and that key is sealed with the survivor's
data key. Deleting the entry erases the key and the blob (crypto-shredding), so a copy of the
storage directory made earlier is noise for that attachment.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.permissions import SurvivorAccess
from core import crypto
from core.clock import Clock
from core.errors import InvalidInput, LanternError, NotFound
from core.ids import new_id
from core.jobs import JobContext
from core.runtime import Runtime
from safety_plans import profile
from safety_plans.chain import sha256_hex
from safety_plans.models import JournalAttachment
from safety_plans.storage import AttachmentStorage

# Where runtime.extensions holds the storage (set by safety_plans.setup).
STORAGE_KEY = "journal_storage"


class UnsupportedAttachment(LanternError):
    status = 415
    type_slug = "unsupported-attachment"
    title = "This kind of file cannot be attached"


class AttachmentTooLarge(LanternError):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


@dataclass(frozen=True)
class AttachmentInfo:
    id: uuid.UUID
    media_type: str
    size: int


def sniff(data: bytes) -> str | None:
    """The media type told by the file's first bytes, from a short allowlist; else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if data[4:8] == b"ftyp" and data[8:12] in (b"M4A ", b"mp42", b"isom", b"M4B "):
        return "audio/mp4"
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return "audio/wav"
    return None


def _binding(column: str, row_id: uuid.UUID, survivor_id: uuid.UUID) -> crypto.Binding:
    return crypto.Binding("journal_attachments", column, row_id, survivor_id)


def _aad(row_id: uuid.UUID, survivor_id: uuid.UUID) -> bytes:
    return f"journal-attachment|{row_id}|{survivor_id}".encode()


def upload(
    session: Session,
    runtime: Runtime,
    storage: AttachmentStorage,
    access: SurvivorAccess,
    data: bytes,
) -> AttachmentInfo:
    """Store an attachment for a journal entry the survivor is about to write."""
    limit = runtime.settings.attachment_max_bytes
    if not data:
        raise InvalidInput("empty file", errors={"file": ["The file is empty."]})
    if len(data) > limit:
        raise AttachmentTooLarge(f"An attachment may be at most {limit} bytes.")
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedAttachment(
            "Attach a photo (JPEG, PNG), recording (MP3, M4A, OGG, WAV) or PDF."
        )
    row_id = new_id()
    sid = access.survivor_id
    key = crypto.random_key()
    storage.put(row_id.hex, crypto.aead_encrypt(key, data, _aad(row_id, sid)))
    row = JournalAttachment(
        id=row_id,
        survivor_id=sid,
        entry_id=None,
        media_type=media_type,
        size=len(data),
        digest_enc=runtime.vault.seal(
            session, _binding("digest_enc", row_id, sid), sha256_hex(data)
        ),
        key_enc=runtime.vault.seal(session, _binding("key_enc", row_id, sid), key),
        created_at=runtime.clock.now(),
    )
    session.add(row)
    session.flush()
    return AttachmentInfo(row_id, media_type, len(data))


def digest_of(session: Session, runtime: Runtime, row: JournalAttachment) -> str:
    return runtime.vault.open_text(
        session, _binding("digest_enc", row.id, row.survivor_id), row.digest_enc
    )


def read(
    session: Session, runtime: Runtime, storage: AttachmentStorage, row: JournalAttachment
) -> bytes:
    if row.key_enc is None:
        raise NotFound()
    key = runtime.vault.open(session, _binding("key_enc", row.id, row.survivor_id), row.key_enc)
    blob = storage.get(row.id.hex)
    if blob is None:
        raise NotFound()
    return crypto.aead_decrypt(key, blob, _aad(row.id, row.survivor_id))


def fetch(
    session: Session,
    runtime: Runtime,
    storage: AttachmentStorage,
    access: SurvivorAccess,
    attachment_id: uuid.UUID,
) -> tuple[AttachmentInfo, bytes]:
    """An attachment's bytes, for its owner or an advocate the journal is shared with."""
    profile.require_staff_sharing(session, runtime, access, journal=True)
    row = session.get(JournalAttachment, attachment_id)
    if row is None or row.survivor_id != access.survivor_id or row.key_enc is None:
        raise NotFound()
    if access.is_staff and row.entry_id is None:
        raise NotFound()  # an upload not yet in an entry is the survivor's draft
    return AttachmentInfo(row.id, row.media_type, row.size), read(session, runtime, storage, row)


def claim_for_entry(
    session: Session, survivor_id: uuid.UUID, entry_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[JournalAttachment]:
    """The survivor's unattached uploads named by ``ids``, now bound to the entry."""
    if not ids:
        return []
    rows = session.scalars(
        select(JournalAttachment).where(
            JournalAttachment.id.in_(ids),
            JournalAttachment.survivor_id == survivor_id,
            JournalAttachment.entry_id.is_(None),
            JournalAttachment.key_enc.is_not(None),
        )
    ).all()
    if len(rows) != len(set(ids)):
        raise InvalidInput(
            "unknown attachment", errors={"attachment_ids": ["Unknown or already used attachment."]}
        )
    by_id = {row.id: row for row in rows}
    ordered = [by_id[i] for i in dict.fromkeys(ids)]
    return ordered


def shred(
    session: Session, clock: Clock, storage: AttachmentStorage, rows: list[JournalAttachment]
) -> None:
    """Erase each attachment's key and blob: nothing can decrypt a copy made before."""
    now = clock.now()
    for row in rows:
        row.key_enc = None
        row.shredded_at = now
        storage.delete(row.id.hex)
    session.flush()


SWEEP_JOB = "safety_plans.attachment_sweep"
SWEEP_EVERY_SECONDS = 3600.0
# An upload never named by an entry within a day was abandoned (the app was closed, perhaps in
# a hurry): it must not linger, decryptable, on the server.
DRAFT_LIFETIME = dt.timedelta(hours=24)
SWEEP_BATCH = 500


def sweep_handler(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Periodic: shred uploads that were never attached to an entry."""
    storage: AttachmentStorage = ctx.deps[STORAGE_KEY]
    cutoff = ctx.clock.now() - DRAFT_LIFETIME
    rows = ctx.session.scalars(
        select(JournalAttachment)
        .where(
            JournalAttachment.entry_id.is_(None),
            JournalAttachment.key_enc.is_not(None),
            JournalAttachment.created_at < cutoff,
        )
        .limit(SWEEP_BATCH)
    ).all()
    shred(ctx.session, ctx.clock, storage, list(rows))
