"""Append-only, hash-chained audit log: who did what to whom, when; never any content.

Each event stores the hash of the one before it; a one-row head table stores the last sequence
number and hash, and is locked while appending, so the chain is one line even with many
writers, and deleting the newest event is detected as surely as editing an older one.

``record`` only collects the event; it is chained and written just before its transaction
commits. The head lock is therefore held for the commit alone, not from the first audited
write until the end of a transaction that may go on to wait for other locks, so concurrent
writers (a burst of check-ins, many requests) do not queue behind one another's whole
transaction. The chain's order is commit order; an event rolled back (with its transaction or
its savepoint) is never written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column

from core.clock import Clock
from core.context import current_request_id
from core.db import Base, is_postgres
from core.ids import new_id

GENESIS = "0" * 64
_PENDING = "lantern.audit.pending"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: ``kind`` is staff, survivor, partner or system."""

    kind: str
    id: uuid.UUID | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    occurred_at: Mapped[dt.datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_kind: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None]
    # Whose data this touched: the survivor may list the events about them.
    survivor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's tip; one row, locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


def _event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "id": str(event.id),
        "occurred_at": event.occurred_at.isoformat(),
        "actor_kind": event.actor_kind,
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "action": event.action,
        "subject_kind": event.subject_kind,
        "subject_id": str(event.subject_id) if event.subject_id else None,
        "survivor_id": str(event.survivor_id) if event.survivor_id else None,
        "request_id": event.request_id,
        "details": event.details or {},
    }


def _lock_head(session: Session) -> AuditHead:
    # populate_existing: sessions keep objects across commits (expire_on_commit=False), so
    # without it a session that appended before would reuse its stale copy of the head and
    # hand out a sequence number someone else already took.
    stmt = select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    head = session.scalars(stmt).one_or_none()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
        if is_postgres(session):
            head = session.scalars(stmt).one()
    return head


def record(
    session: Session,
    clock: Clock,
    actor: Actor,
    action: str,
    *,
    subject_kind: str | None = None,
    subject_id: uuid.UUID | None = None,
    survivor_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the caller's transaction; it is chained and written as it commits.

    ``details`` must hold no content or PII.
    """
    # Hash exactly what the database will give back: UTC (a clock in another zone would
    # otherwise hash "+02:00" and read back "+00:00") and details as plain JSON (tuples,
    # NaN and other non-JSON values would hash differently from what is stored).
    occurred_at = clock.now().astimezone(dt.UTC)
    canonical_details = json.loads(json.dumps(details or {}, allow_nan=False))
    audit_event = AuditEvent(
        id=new_id(),
        occurred_at=occurred_at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        survivor_id=survivor_id,
        request_id=current_request_id(),
        details=canonical_details,
    )
    # The innermost transaction, so that a rolled-back savepoint takes its events with it.
    owner = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(_PENDING, []).append((owner, audit_event))
    return audit_event


def write_pending(session: Session) -> None:
    """Chain and write the events recorded in this transaction (called before commit).

    Code that must read its own transaction's events before committing may call it too.
    """
    pending: list[tuple[SessionTransaction, AuditEvent]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    head = _lock_head(session)
    for _owner, audit_event in pending:
        audit_event.seq = head.last_seq + 1
        audit_event.prev_hash = head.last_hash
        audit_event.hash = _event_hash(audit_event.prev_hash, _fields(audit_event))
        head.last_seq, head.last_hash = audit_event.seq, audit_event.hash
        session.add(audit_event)
    session.flush()


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@orm_event.listens_for(Session, "do_orm_execute")
def _before_reading_events(state: ORMExecuteState) -> None:
    # Like autoflush: a transaction that reads the audit log sees the events it recorded.
    if state.is_select and any(m.class_ is AuditEvent for m in state.all_mappers):
        write_pending(state.session)


@orm_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # before_commit also fires when a savepoint is released; only the outermost commit chains,
    # so that the head is locked as late as possible.
    if session.get_nested_transaction() is None:
        write_pending(session)


@orm_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (owner, e) for owner, e in pending if not _within(owner, previous_transaction)
        ]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify(session: Session, batch_size: int = 1000) -> VerifyResult:
    """Walk the chain from the start; report the first event that breaks it."""
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
    prev_hash, expected_seq, checked = GENESIS, 1, 0
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
            if event.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, "event missing")
            if event.prev_hash != prev_hash:
                return VerifyResult(False, checked, event.seq, "link to previous event broken")
            if _event_hash(event.prev_hash, _fields(event)) != event.hash:
                return VerifyResult(False, checked, event.seq, "event altered")
            prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
            last_seen = event.seq
    if head is None:
        if checked:
            # The migration creates the head; events without one means it was deleted, which
            # is how a truncated tail would otherwise go unnoticed.
            return VerifyResult(False, checked, checked + 1, "chain head missing")
        return VerifyResult(True, 0)
    if head.last_seq != checked:
        return VerifyResult(False, checked, checked + 1, "newest events missing")
    if head.last_hash != prev_hash:
        # The newest event was rewritten with a recomputed hash: only the head still knows.
        return VerifyResult(False, checked, checked, "newest event does not match the head")
    return VerifyResult(True, checked)
