"""The evidence journal: immutable sealed entries in a per-survivor hash chain.

Corrections are new entries naming the one they amend. Deleting an entry erases its content
and shreds its attachments, and appends a deletion link to the chain, so the record shows that
something was removed, and when, without keeping what it said.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from core import crypto, limits
from core.clock import Clock
from core.db import is_postgres
from core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from core.ids import new_id
from safety_plans import attachments, chain, profile
from safety_plans.deps import SafetyPlansDeps
from safety_plans.entries import KINDS, EntryContent, EntryIn, EntryView
from safety_plans.models import JournalAttachment, JournalEntry, JournalHead

ENTRY_WINDOW = dt.timedelta(days=1)


class JournalEntriesLimited(TooManyRequests):
    type_slug = "journal-entries-limited"
    title = "Too many journal entries"


def _binding(row_id: uuid.UUID, survivor_id: uuid.UUID) -> crypto.Binding:
    return crypto.Binding("journal_entries", "content_enc", row_id, survivor_id)


def _head(session: Session, survivor_id: uuid.UUID) -> JournalHead:
    """The chain's head, locked on PostgreSQL so that a concurrent append waits for ours and
    then links after it (SQLite serialises writers anyway); the UPDATE below re-checks."""
    stmt = (
        select(JournalHead)
        .where(JournalHead.survivor_id == survivor_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update()
    head = session.scalars(stmt).one_or_none()
    if head is not None:
        return head
    try:
        with session.begin_nested():
            head = JournalHead(survivor_id=survivor_id, last_seq=0, last_hash=chain.GENESIS)
            session.add(head)
    except IntegrityError:
        found = session.get(JournalHead, survivor_id)
        if found is None:  # pragma: no cover
            raise
        return found
    return head


def _append(
    session: Session,
    clock: Clock,
    deps: SafetyPlansDeps,
    survivor_id: uuid.UUID,
    row_id: uuid.UUID,
    entry_type: str,
    refers_to: uuid.UUID | None,
    content: EntryContent,
) -> JournalEntry:
    """Seal ``content`` and link it after the chain's head (compare-and-swap on the head)."""
    head = _head(session, survivor_id)
    seq, prev = head.last_seq + 1, head.last_hash
    recorded_at = clock.now()
    digest = chain.content_digest(content)
    link = {
        "seq": seq,
        "id": str(row_id),
        "entry_type": entry_type,
        "refers_to": str(refers_to) if refers_to else None,
        "recorded_at": recorded_at.isoformat(),
        "content_digest": digest,
    }
    new_hash = chain.link_hash(prev, link)
    moved = session.execute(
        update(JournalHead)
        .where(JournalHead.survivor_id == survivor_id, JournalHead.last_seq == head.last_seq)
        .values(last_seq=seq, last_hash=new_hash)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The journal changed at the same moment; try again.")
    session.expire(head)
    row = JournalEntry(
        id=row_id,
        survivor_id=survivor_id,
        seq=seq,
        entry_type=entry_type,
        refers_to=refers_to,
        content_enc=deps.vault.seal(
            session, _binding(row_id, survivor_id), chain.canonical(content)
        ),
        recorded_at=recorded_at,
        content_digest=digest,
        prev_hash=prev,
        chain_hash=new_hash,
    )
    session.add(row)
    session.flush()
    return row


def _salt() -> str:
    return secrets.token_hex(16)


def _require_entry_slot(
    session: Session, clock: Clock, deps: SafetyPlansDeps, survivor_id: uuid.UUID
) -> None:
    """429 when the survivor has written as many entries (corrections too; deletion links are
    not entries) as a day allows."""
    limits.serialise(session, survivor_id)
    limits.require_slot(
        session,
        clock,
        JournalEntriesLimited,
        "You have written many journal entries today; you can write more later.",
        JournalEntry.recorded_at,
        [JournalEntry.survivor_id == survivor_id, JournalEntry.entry_type == "entry"],
        limit=deps.settings.journal_entries_per_day,
        window=ENTRY_WINDOW,
    )


def create_entry(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps, *, entry: EntryIn
) -> EntryView:
    """Write an entry (only the survivor writes their journal)."""
    occurred_on = entry.get("occurred_on")
    if not occurred_on and not entry.get("occurred_text"):
        raise InvalidInput(
            "say when it happened",
            errors={"occurred_on": ["Give a date, or say in your own words when it happened."]},
        )
    row_id = new_id()
    now = clock.now()
    # A day of slack: the survivor's local date may be ahead of UTC.
    if occurred_on and occurred_on > (now + dt.timedelta(days=1)).date():
        raise InvalidInput(
            "date in the future", errors={"occurred_on": ["This date is in the future."]}
        )
    amends = entry.get("amends")
    # Every field, given or not: the content is hashed into the chain as it is.
    content: EntryContent = {
        "occurred_on": occurred_on.isoformat() if occurred_on is not None else None,
        "occurred_text": entry.get("occurred_text"),
        "kinds": [k for k in KINDS if k in entry["kinds"]],
        "description": entry.get("description"),
        "injuries": entry.get("injuries"),
        "witnesses": entry.get("witnesses"),
        "police_reference": entry.get("police_reference"),
        "amends": str(amends) if amends else None,
    }
    _require_entry_slot(session, clock, deps, access.survivor_id)
    sid = access.survivor_id
    if amends is not None:
        target = session.get(JournalEntry, amends)
        if (
            target is None
            or target.survivor_id != sid
            or target.entry_type != "entry"
            or target.deleted_at is not None
        ):
            raise InvalidInput("unknown entry", errors={"amends": ["No such entry."]})
    # The id is fixed before the attachments are bound and the content sealed.
    rows = attachments.claim_for_entry(session, sid, row_id, list(entry.get("attachment_ids", [])))
    content["attachments"] = [
        {
            "id": str(a.id),
            "media_type": a.media_type,
            "size": a.size,
            "sha256": attachments.digest_of(session, deps, a),
        }
        for a in rows
    ]
    content["id"] = str(row_id)
    content["salt"] = _salt()
    row = _append(session, clock, deps, sid, row_id, "entry", amends, content)
    for a in rows:
        a.entry_id = row.id
    session.flush()
    return EntryView(row.id, row.seq, "entry", row.recorded_at, amends, False, content)


def _open(session: Session, deps: SafetyPlansDeps, row: JournalEntry) -> EntryContent | None:
    if row.content_enc is None:
        return None
    raw = deps.vault.open(session, _binding(row.id, row.survivor_id), row.content_enc)
    return cast(EntryContent, json.loads(raw))


def _rows(session: Session, survivor_id: uuid.UUID) -> list[JournalEntry]:
    return list(
        session.scalars(
            select(JournalEntry)
            .where(JournalEntry.survivor_id == survivor_id)
            .order_by(JournalEntry.seq)
        )
    )


def _guard(session: Session, access: SurvivorAccess, clock: Clock) -> None:
    profile.require_staff_sharing(session, access, clock, journal=True)


def list_entries(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> list[EntryView]:
    """The whole chain in order: entries, corrections and deletion links."""
    _guard(session, access, clock)
    rows = _rows(session, access.survivor_id)
    amended: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        if row.entry_type == "entry" and row.refers_to is not None:
            amended.setdefault(row.refers_to, []).append(row.id)
    return [
        EntryView(
            row.id,
            row.seq,
            row.entry_type,
            row.recorded_at,
            row.refers_to,
            row.deleted_at is not None,
            _open(session, deps, row),
            amended.get(row.id, []),
        )
        for row in rows
    ]


def get_entry(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    entry_id: uuid.UUID,
) -> EntryView:
    for view in list_entries(session, access, clock, deps):
        if view.id == entry_id:
            return view
    raise NotFound()


def delete_entry(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    entry_id: uuid.UUID,
) -> None:
    """Erase an entry's content, shred its attachments, and record the deletion in the chain."""
    sid = access.survivor_id
    row = session.get(JournalEntry, entry_id)
    if row is None or row.survivor_id != sid or row.entry_type != "entry" or row.deleted_at:
        raise NotFound()
    row.content_enc = None
    row.deleted_at = clock.now()
    owned = session.scalars(
        select(JournalAttachment).where(JournalAttachment.entry_id == row.id)
    ).all()
    attachments.shred(session, clock, deps.storage, list(owned))
    tomb_id = new_id()
    content: EntryContent = {"id": str(tomb_id), "deletes": str(entry_id), "salt": _salt()}
    _append(session, clock, deps, sid, tomb_id, "deletion", entry_id, content)


def chain_rows(session: Session, survivor_id: uuid.UUID) -> list[JournalEntry]:
    return _rows(session, survivor_id)


def open_content(session: Session, deps: SafetyPlansDeps, row: JournalEntry) -> EntryContent | None:
    return _open(session, deps, row)


def head_of(session: Session, survivor_id: uuid.UUID) -> tuple[int, str]:
    head = session.get(JournalHead, survivor_id)
    return (head.last_seq, head.last_hash) if head else (0, chain.GENESIS)
