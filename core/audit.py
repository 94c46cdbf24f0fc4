"""Append-only, hash-chained audit log: who did what to whom, when; never any content.

Each event stores the hash of the one before it; a one-row head table stores the last sequence
number and hash, and is locked while appending, so the chain is one line even with many
writers. Deleting the newest events is found by the head, unless the head is moved back too:
a log cut short (or emptied) that way is still a valid chain, and only a record kept outside
the database can tell. That record is the checkpoint file (``core.audit_checkpoints``): each
successful ``verify`` appends the head it verified, and every ``verify`` checks the log against
every checkpoint.

``record`` only collects the event; it is chained and written just before its transaction
commits. The head lock is therefore held for the commit alone, not from the first audited
write until the end of a transaction that may go on to wait for other locks, so concurrent
writers (a burst of check-ins, many requests) do not queue behind one another's whole
transaction. The chain's order is commit order; an event rolled back (with its transaction or
its savepoint) is never written.

Each link is an HMAC-SHA256 under an audit key kept outside the database (with the key's id on
the event, so the key can be rotated), not a plain hash: someone who can write to the database
but does not hold the key cannot rewrite an event and recompute the chain after it. A session
gets the keys and the checkpoint file from its factory (``session_info``); a session without
the keys cannot commit an event, and one without the checkpoint file cannot verify.
Events written before the chain was keyed (``key_id`` empty) keep their plain SHA-256
links: they may only open the log (``unkeyed_events`` of them, a number kept outside the
database), and the first keyed event, chained onto the last of them, protects them all.
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
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
    sessionmaker,
)

from core.audit_checkpoints import CheckpointLog
from core.clock import Clock
from core.context import current_request_id
from core.crypto import AuditChainKeys
from core.db import Base, is_postgres
from core.errors import ConfigurationError
from core.ids import new_id

GENESIS = "0" * 64
_PENDING = "lantern.audit.pending"
_KEYS = "lantern.audit.keys"
_CHECKPOINTS = "lantern.audit.checkpoints"
# Set while the session's transaction holds events it wrote and has not committed.
_UNCOMMITTED = "lantern.audit.uncommitted"
NOT_KEYED = "event not keyed"


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
    # The audit key that made ``hash``; empty for events written before the chain was keyed.
    key_id: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's tip; one row, locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


def session_info(keys: AuditChainKeys, checkpoints: CheckpointLog | None = None) -> dict[str, Any]:
    """What a session factory needs (``sessionmaker(info=...)``) to chain audit events, and
    (with ``checkpoints``) to verify them. A dict: SQLAlchemy's ``Session.info`` is one, free-form
    by design (other keys live beside these)."""
    info: dict[str, Any] = {_KEYS: keys}
    if checkpoints is not None:
        info[_CHECKPOINTS] = checkpoints
    return info


def bind_keys(
    factory: sessionmaker[Session], keys: AuditChainKeys, checkpoints: CheckpointLog
) -> None:
    """Give every session ``factory`` makes from now on the audit keys and checkpoint file."""
    factory.configure(info={**factory.kw.get("info", {}), **session_info(keys, checkpoints)})


def session_checkpoints(session: Session) -> CheckpointLog:
    """The checkpoint file this session verifies against."""
    checkpoints: CheckpointLog | None = session.info.get(_CHECKPOINTS)
    if checkpoints is None:
        # Fail closed: without the checkpoints, a log cut short would verify as intact.
        raise ConfigurationError(
            "this session has no audit checkpoint file: build sessions with the runtime's "
            "session factory"
        )
    return checkpoints


def holds_uncommitted_events(session: Session) -> bool:
    """Whether this session's transaction wrote events it has not committed (they may roll
    back, so no checkpoint may name them yet)."""
    return bool(session.info.get(_UNCOMMITTED))


def session_keys(session: Session) -> AuditChainKeys:
    """The audit keys this session chains and verifies with."""
    keys: AuditChainKeys | None = session.info.get(_KEYS)
    if keys is None:
        # Fail closed: an event chained without the key could be rewritten by anyone.
        raise ConfigurationError(
            "this session has no audit key: build sessions with the runtime's session factory"
        )
    return keys


def _message(prev_hash: str, fields: dict[str, Any]) -> bytes:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return (prev_hash + canonical).encode()


def chain_hash(keys: AuditChainKeys, event: AuditEvent) -> str | None:
    """The link ``event`` must carry, or None when its key is not among ``keys``.

    An event from before the chain was keyed has a plain SHA-256 link (anyone can compute it).
    """
    message = _message(event.prev_hash, _fields(event))
    if event.key_id is None:
        return hashlib.sha256(message).hexdigest()
    return keys.mac(event.key_id, message)


def _fields(event: AuditEvent) -> dict[str, Any]:
    # A dict: the exact JSON object the chain hashes (``details`` is free-form by design, and
    # ``key_id`` is present only on keyed events), never handed to a view.
    fields = {
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
    # Hashed only when present, so that unkeyed events keep the links they were given.
    if event.key_id is not None:
        fields["key_id"] = event.key_id
    return fields


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
    keys = session_keys(session)
    key_id = keys.primary_id  # before the head is locked
    head = _lock_head(session)
    for _owner, audit_event in pending:
        audit_event.seq = head.last_seq + 1
        audit_event.prev_hash = head.last_hash
        audit_event.key_id = key_id
        link = keys.mac(key_id, _message(audit_event.prev_hash, _fields(audit_event)))
        assert link is not None  # the primary key is always among the keys
        audit_event.hash = link
        head.last_seq, head.last_hash = audit_event.seq, audit_event.hash
        session.add(audit_event)
    session.flush()
    session.info[_UNCOMMITTED] = True


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


@orm_event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction: releasing or rolling back a savepoint (after_commit and
    # after_rollback fire for those too) leaves what the transaction wrote uncommitted.
    if transaction.parent is None:
        session.info.pop(_UNCOMMITTED, None)


@orm_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (owner, e) for owner, e in pending if not _within(owner, previous_transaction)
        ]


# Verification is its own module (it also reads the checkpoint file); re-exported here so that
# callers keep saying ``audit.verify``. Imported last: it uses the names above.
from core.audit_verify import VerifyResult as VerifyResult  # noqa: E402
from core.audit_verify import unkeyed_prefix as unkeyed_prefix  # noqa: E402
from core.audit_verify import verify as verify  # noqa: E402
