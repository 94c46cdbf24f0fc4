"""Verifying the audit log: every link under the audit keys, and the log against the checkpoints
kept outside the database (``core.audit_checkpoints``), so that an event rewritten, removed,
re-chained without the key, or cut from the end of the log with the head moved back (or the
whole log emptied), is each found. Callers use it as ``audit.verify``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import (
    GENESIS,
    NOT_KEYED,
    AuditEvent,
    AuditHead,
    chain_hash,
    holds_uncommitted_events,
    session_checkpoints,
    session_keys,
    write_pending,
)
from core.audit_checkpoints import Checkpoint, CheckpointForged, CheckpointLog, Witness
from core.crypto import AuditChainKeys


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    # Events at the start of the log written before the chain was keyed.
    unkeyed: int = 0
    # The break is where the log contradicts a checkpoint (cut short, emptied, or an event at
    # a checkpoint changed): also what a database restored from an older backup looks like.
    against_checkpoint: bool = False
    # The newest checkpoint on file once an intact log was verified (the one just written, or
    # the one that already named this head); what was found, not part of the verdict.
    checkpoint: Checkpoint | None = field(default=None, compare=False)


def verify(
    session: Session,
    batch_size: int = 1000,
    *,
    unkeyed_events: int = 0,
    keys: AuditChainKeys | None = None,
    checkpoints: CheckpointLog | None = None,
    on_batch: Callable[[], None] | None = None,
) -> VerifyResult:
    """Walk the chain from the start and check it against every checkpoint; report the first
    break. An intact log's head is then checkpointed, unless this transaction wrote events it
    has not committed yet (they may still roll back).

    ``unkeyed_events`` is how many events at the start may predate the audit key; ``keys`` and
    ``checkpoints`` default to the session's; ``on_batch`` runs after each batch (a worker
    renews its lease there).
    """
    keys = keys or session_keys(session)
    checkpoints = checkpoints or session_checkpoints(session)
    # The checkpoints are read before the head: one written after this is of a head that was
    # committed before it was written, so the head read below is at least as new.
    forged: CheckpointForged | None = None
    try:
        witness = Witness(checkpoints.read(keys))
    except CheckpointForged as exc:
        witness, forged = Witness([]), exc
    # The head is read first and bounds the walk: events appended while we walk are newer
    # than this head and are checked next time, instead of looking like a mismatch.
    # populate_existing everywhere: what counts is what the database holds now, not copies a
    # long-lived session loaded (or wrote) earlier. Events this transaction recorded are
    # written first, as any read of the log would see them.
    write_pending(session)
    head = session.scalars(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).one_or_none()
    head_seq = head.last_seq if head is not None else None
    prev_hash, expected_seq, checked, unkeyed = GENESIS, 1, 0, 0
    last_seen = 0
    while True:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.seq > last_seen)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
            .execution_options(populate_existing=True)
        )
        if head_seq is not None:
            stmt = stmt.where(AuditEvent.seq <= head_seq)
        events = session.scalars(stmt).all()
        if not events:
            break
        for event in events:
            broken = _check(event, expected_seq, prev_hash, keys, unkeyed, unkeyed_events)
            if broken is not None:
                return VerifyResult(False, checked, broken[0], broken[1], unkeyed)
            if problem := witness.event_problem(event.seq, event.hash):
                return VerifyResult(False, checked, event.seq, problem, unkeyed, True)
            unkeyed += event.key_id is None
            prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
            last_seen = event.seq
        if on_batch is not None:
            on_batch()
    if head is None and checked:
        # The migration creates the head; events without one means it was deleted, which
        # is how a truncated tail would otherwise go unnoticed.
        return VerifyResult(False, checked, checked + 1, "chain head missing", unkeyed)
    if head is not None and head.last_seq != checked:
        return VerifyResult(False, checked, checked + 1, "newest events missing", unkeyed)
    if head is not None and head.last_hash != prev_hash:
        # The newest event was rewritten with a recomputed hash: only the head still knows.
        return VerifyResult(
            False, checked, checked, "newest event does not match the head", unkeyed
        )
    if forged is not None:
        return VerifyResult(False, checked, None, str(forged), unkeyed)
    if problem := witness.head_problem(checked):
        # The head was moved back with the events cut (or the log emptied): only the
        # checkpoints still know how far the log reached.
        return VerifyResult(False, checked, checked + 1, problem, unkeyed, True)
    checkpoint = witness.newest
    if (
        head is not None
        and checked
        and (checkpoint is None or checkpoint.seq < checked)
        and not holds_uncommitted_events(session)
    ):
        checkpoint = checkpoints.append(keys, head.last_seq, head.last_hash)
    return VerifyResult(True, checked, unkeyed=unkeyed, checkpoint=checkpoint)


def _check(
    event: AuditEvent,
    expected_seq: int,
    prev_hash: str,
    keys: AuditChainKeys,
    unkeyed_so_far: int,
    unkeyed_allowed: int,
) -> tuple[int, str] | None:
    """(seq, reason) when ``event`` breaks the chain, else None."""
    if event.seq != expected_seq:
        return expected_seq, "event missing"
    if event.prev_hash != prev_hash:
        return event.seq, "link to previous event broken"
    if event.key_id is None and (unkeyed_so_far != event.seq - 1 or event.seq > unkeyed_allowed):
        # Only an opening run of at most unkeyed_allowed events may be unkeyed; anything else
        # is an event rewritten (and re-chained) by someone without the key.
        return event.seq, NOT_KEYED
    expected = chain_hash(keys, event)
    if expected is None:
        return event.seq, f"event keyed with audit key {event.key_id!r}, which is not configured"
    if not hmac.compare_digest(expected.encode(), event.hash.encode()):
        return event.seq, "event altered"
    return None


def unkeyed_prefix(session: Session) -> int:
    """How many events open the log before the first keyed one (all of them if none is)."""
    first_keyed = session.scalar(
        select(AuditEvent.seq)
        .where(AuditEvent.key_id.is_not(None))
        .order_by(AuditEvent.seq)
        .limit(1)
    )
    if first_keyed is not None:
        return first_keyed - 1
    return session.scalar(select(AuditHead.last_seq).where(AuditHead.id == 1)) or 0
