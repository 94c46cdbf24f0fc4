"""Journal attachments: type checked by content, size bounded, sealed, fetched only by id.

Each blob is encrypted under its own random key, and that key is sealed with the survivor's
data key. Deleting the entry erases the key and the blob (crypto-shredding), so a copy of the
storage directory made earlier is noise for that attachment.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from core import crypto, limits
from core.clock import Clock
from core.errors import InvalidInput, LanternError, NotFound, TooLarge
from core.ids import new_id
from core.jobs import JobContext
from safety_plans import profile
from safety_plans.chain import sha256_hex
from safety_plans.deps import SafetyPlansDeps
from safety_plans.models import JournalAttachment
from safety_plans.storage import AttachmentStorage

log = logging.getLogger(__name__)


class UnsupportedAttachment(LanternError):
    status = 415
    type_slug = "unsupported-attachment"
    title = "This kind of file cannot be attached"


class AttachmentTooLarge(TooLarge):
    """One file over ``LANTERN_ATTACHMENT_MAX_BYTES``."""


class AttachmentStorageFull(TooLarge):
    """The survivor's attachments would pass ``LANTERN_ATTACHMENT_QUOTA_BYTES``."""

    type_slug = "attachment-storage-full"
    title = "No room for more attachments"


@dataclass(frozen=True, slots=True)
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


def blob_binding(row_id: uuid.UUID, survivor_id: uuid.UUID) -> crypto.Binding:
    """Where an attachment's sealed file belongs (under the attachment's own key)."""
    return crypto.Binding.blob("journal-attachment", row_id, survivor_id)


def upload(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps, *, data: bytes
) -> AttachmentInfo:
    """Store an attachment for a journal entry the survivor is about to write."""
    limit = deps.settings.attachment_max_bytes
    if not data:
        raise InvalidInput("empty file", errors={"file": ["The file is empty."]})
    if len(data) > limit:
        raise AttachmentTooLarge(f"An attachment may be at most {limit} bytes.")
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedAttachment(
            "Attach a photo (JPEG, PNG), recording (MP3, M4A, OGG, WAV) or PDF."
        )
    _require_room(session, deps, access.survivor_id, len(data))
    row_id = new_id()
    sid = access.survivor_id
    key = crypto.random_key()
    # The file is written before its row commits. Should the commit fail, the file has no
    # row: the sweep removes such files once they are older than ORPHAN_GRACE.
    deps.storage.put(row_id.hex, crypto.seal_with_key(key, blob_binding(row_id, sid), data))
    row = JournalAttachment(
        id=row_id,
        survivor_id=sid,
        entry_id=None,
        media_type=media_type,
        size=len(data),
        digest_enc=deps.vault.seal(session, _binding("digest_enc", row_id, sid), sha256_hex(data)),
        key_enc=deps.vault.seal(session, _binding("key_enc", row_id, sid), key),
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return AttachmentInfo(row_id, media_type, len(data))


def _require_room(
    session: Session, deps: SafetyPlansDeps, survivor_id: uuid.UUID, size: int
) -> None:
    """413 when ``size`` more bytes would pass the survivor's room for attachments. Every
    attachment not shredded counts, uploads not yet in an entry too."""
    limits.serialise(session, survivor_id)
    used = session.scalar(
        select(func.coalesce(func.sum(JournalAttachment.size), 0)).where(
            JournalAttachment.survivor_id == survivor_id, JournalAttachment.key_enc.is_not(None)
        )
    )
    quota = deps.settings.attachment_quota_bytes
    if int(used or 0) + size > quota:
        raise AttachmentStorageFull(
            f"Attachments may take at most {quota} bytes in all, and this one does not fit. "
            "Deleting an entry frees the room of its attachments; uploads never put into an "
            "entry are removed after a day."
        )


def digest_of(session: Session, deps: SafetyPlansDeps, row: JournalAttachment) -> str:
    return deps.vault.open_text(
        session, _binding("digest_enc", row.id, row.survivor_id), row.digest_enc
    )


def read(session: Session, deps: SafetyPlansDeps, row: JournalAttachment) -> bytes:
    if row.key_enc is None:
        raise NotFound()
    key = deps.vault.open(session, _binding("key_enc", row.id, row.survivor_id), row.key_enc)
    blob = deps.storage.get(row.id.hex)
    if blob is None:
        raise NotFound()
    return crypto.open_with_key(key, blob_binding(row.id, row.survivor_id), blob)


def fetch(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    attachment_id: uuid.UUID,
) -> tuple[AttachmentInfo, bytes]:
    """An attachment's bytes, for its owner or an advocate the journal is shared with."""
    profile.require_staff_sharing(session, access, clock, journal=True)
    row = session.get(JournalAttachment, attachment_id)
    if row is None or row.survivor_id != access.survivor_id or row.key_enc is None:
        raise NotFound()
    if access.is_staff and row.entry_id is None:
        raise NotFound()  # an upload not yet in an entry is the survivor's draft
    return AttachmentInfo(row.id, row.media_type, row.size), read(session, deps, row)


def claim_for_entry(
    session: Session, survivor_id: uuid.UUID, entry_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[JournalAttachment]:
    """The survivor's unattached uploads named by ``ids``, now bound to the entry."""
    if not ids:
        return []
    rows = session.scalars(
        select(JournalAttachment)
        .where(
            JournalAttachment.id.in_(ids),
            JournalAttachment.survivor_id == survivor_id,
            JournalAttachment.entry_id.is_(None),
            JournalAttachment.key_enc.is_not(None),
        )
        # Locked, as the sweep locks what it shreds: an entry never claims an upload the sweep
        # is shredding at the same moment (on PostgreSQL the loser sees the winner's row).
        .with_for_update()
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
    """Erase each attachment's key (nothing can decrypt a copy made before), and its blob once
    that erasure has committed: removed earlier, a failed commit would leave a live row with
    no file, and the attachment would be lost."""
    now = clock.now()
    for row in rows:
        row.key_enc = None
        row.shredded_at = now
    session.flush()
    _delete_after_commit(session, storage, [row.id.hex for row in rows])


_PENDING = "safety_plans.attachments.delete_after_commit"


def _delete_after_commit(session: Session, storage: AttachmentStorage, names: list[str]) -> None:
    # Not for use inside a savepoint that may roll back alone: the files would still go.
    if _PENDING not in session.info:
        session.info[_PENDING] = []
        event.listen(session, "after_commit", _run_deletes)
        event.listen(session, "after_transaction_end", _forget_deletes)
    session.info[_PENDING].extend((storage, name) for name in names)


def _run_deletes(session: Session) -> None:
    pending: list[tuple[AttachmentStorage, str]] = session.info[_PENDING]
    for storage, name in pending:
        try:
            storage.delete(name)
        except OSError as exc:  # the sweep removes it later (its row is shredded)
            log.warning(
                "attachment blob not removed",
                extra={"event": "attachment_blob_kept", "error": type(exc).__name__},
            )
    pending.clear()


def _forget_deletes(session: Session, transaction: Any) -> None:
    # After a commit the list is already empty; after a rollback nothing may be removed.
    if transaction.parent is None:
        session.info[_PENDING].clear()


SWEEP_JOB = "safety_plans.attachment_sweep"
# Every ten minutes, so that an upload outlives its day by ten minutes at most.
SWEEP_EVERY_SECONDS = 600.0
# An upload never named by an entry within a day was abandoned (the app was closed, perhaps in
# a hurry): it must not linger, decryptable, on the server.
DRAFT_LIFETIME = dt.timedelta(days=1)
# A blob with no live row is left by an upload whose commit failed, or by a shredding whose file
# could not be removed. Past this age no request can still be about to commit its row.
ORPHAN_GRACE = dt.timedelta(minutes=15)
SWEEP_BATCH = 500


def sweep_handler(ctx: JobContext, payload: dict[str, Any], *, storage: AttachmentStorage) -> None:
    """Periodic: shred every upload never attached to an entry within a day, and remove every
    blob that has no live row."""
    cutoff = ctx.clock.now() - DRAFT_LIFETIME
    while True:  # the whole backlog, a batch per transaction
        rows = ctx.session.scalars(
            select(JournalAttachment)
            .where(
                JournalAttachment.entry_id.is_(None),
                JournalAttachment.key_enc.is_not(None),
                JournalAttachment.created_at < cutoff,
            )
            .limit(SWEEP_BATCH)
            # An entry claiming one of these right now holds its row: skip it this round.
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            break
        shred(ctx.session, ctx.clock, storage, list(rows))
        ctx.checkpoint()
    stale = storage.names_older_than(ctx.clock.now() - ORPHAN_GRACE)
    while names := list(itertools.islice(stale, SWEEP_BATCH)):
        ids = [uuid.UUID(hex=name) for name in names]
        live = set(
            ctx.session.scalars(
                select(JournalAttachment.id).where(
                    JournalAttachment.id.in_(ids), JournalAttachment.key_enc.is_not(None)
                )
            )
        )
        for blob_id in ids:
            if blob_id not in live:
                storage.delete(blob_id.hex)
