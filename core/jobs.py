"""Durable jobs: rows in the application database, written in the caller's transaction.

``enqueue`` adds a job in the same transaction as the change that causes it (transactional
outbox). Workers claim due jobs with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional update everywhere), run the registered handler in a fresh transaction, and mark the
job done in that same transaction only if they still hold the lease, so a job whose lease ran
out and was taken by another worker cannot be completed twice. Failures back off exponentially
with jitter and are dead-lettered after the last try.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, and_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock
from core.db import Base
from core.ids import new_id

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
#: What ``fail`` returns when the worker no longer held the job: nothing was recorded.
LOST = "lost"


class Job(Base):
    __tablename__ = "jobs"
    # Workers look for due jobs by state and time; this index is their hot path.
    __table_args__ = (Index("ix_jobs_due", "state", "run_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    run_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[dt.datetime | None]
    # Exception class name only: a message could carry a phone number or other content.
    last_error: Mapped[str | None] = mapped_column(String(200))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class PermanentJobError(Exception):
    """Raised by a handler when trying again cannot help: dead-letter at once."""


class WorkerVanished(Exception):
    """Recorded when a job's last try was lost with its worker (killed mid-job, lease ran out).

    A job that kills its worker (out of memory, a crash in a C library) would otherwise be
    claimed and lose its worker again forever.
    """


class RetryLater(Exception):
    """Raised by a handler to be tried again after ``seconds`` (honours e.g. Retry-After)."""

    def __init__(self, seconds: float, reason: str = "retry later") -> None:
        super().__init__(reason)
        self.seconds = seconds


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease ran out): it must not go on."""


@dataclass
class JobContext:
    """What a handler gets: its own session (committed with the job), the clock, the job.

    Its collaborators (SMS gateway, vault, hooks...) are bound to the handler when the
    composition root registers it (``api.registry.job_registry``), typed: never looked up here.
    """

    session: Session
    clock: Clock
    job: Job
    worker_id: str | None = None
    lease_seconds: float = 60.0
    #: Set by ``retry_in``: the job ends this attempt keeping its changes and runs again then.
    retry_seconds: float | None = None
    retry_reason: str = "retry_in"
    #: Every job this handler call serves (just ``job`` unless its kind runs in batches).
    batch: list[Job] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.batch:
            self.batch = [self.job]

    def checkpoint(self) -> None:
        """Commit what the handler has written so far, while this worker still holds the job.

        For a handler about to do something outside the database that must not be repeated
        (handing an SMS to Twilio): committing first leaves a durable mark that the attempt
        began, which the next try finds if this worker dies during the call, and frees the
        database connection while the call waits. Raises ``LeaseLost`` (nothing committed)
        when the lease has run out and another worker may already hold the job.
        """
        if self.worker_id is not None and len(
            renew_many(self.session, self.clock, self.batch, self.worker_id, self.lease_seconds)
        ) != len(self.batch):
            self.session.rollback()
            raise LeaseLost(self.job.kind)
        self.session.commit()

    def retry_in(self, seconds: float, reason: str = "retry_in") -> None:
        """End this attempt keeping what it wrote (unlike ``RetryLater``) and run again later.

        ``reason`` is recorded as the job's last error: a word, never content.
        """
        self.retry_seconds, self.retry_reason = max(0.0, seconds), reason


Handler = Callable[[JobContext, dict[str, Any]], None]
#: A handler for many jobs of one kind at once: ``ctx.batch`` holds the jobs, in payload order.
BatchHandler = Callable[[JobContext, list[dict[str, Any]]], None]
BackoffPolicy = Callable[[int], float]


def exponential_backoff(attempt: int, base: float = 5.0, cap: float = 3600.0) -> float:
    """Seconds to wait after ``attempt`` failures: base * 2^(n-1), capped, with full jitter."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


@dataclass
class JobType:
    handler: Handler
    max_attempts: int = 8
    backoff: BackoffPolicy = exponential_backoff
    every_seconds: float | None = None  # periodic jobs reschedule themselves
    batch_handler: BatchHandler | None = None
    batch_size: int = 1


@dataclass
class JobRegistry:
    """Maps job kinds to handlers; domains register, the worker looks up."""

    types: dict[str, JobType] = field(default_factory=dict)

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        max_attempts: int = 8,
        backoff: BackoffPolicy = exponential_backoff,
        every_seconds: float | None = None,
    ) -> None:
        if kind in self.types:
            raise ValueError(f"job kind {kind!r} is registered twice")
        self.types[kind] = JobType(handler, max_attempts, backoff, every_seconds)

    def register_batch(
        self, kind: str, handler: BatchHandler, *, batch_size: int, max_attempts: int = 8
    ) -> None:
        """A kind whose due jobs run up to ``batch_size`` at a time in one handler call and one
        transaction (a burst of check-ins: one query for fifty rows instead of fifty)."""
        if kind in self.types:
            raise ValueError(f"job kind {kind!r} is registered twice")

        def one(ctx: JobContext, payload: dict[str, Any]) -> None:
            handler(ctx, [payload])

        self.types[kind] = JobType(
            one, max_attempts, batch_handler=handler, batch_size=max(1, batch_size)
        )

    def get(self, kind: str) -> JobType | None:
        return self.types.get(kind)

    def batch_kinds(self) -> dict[str, int]:
        return {k: jt.batch_size for k, jt in self.types.items() if jt.batch_handler is not None}


def enqueue(
    session: Session,
    clock: Clock,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: dt.datetime | None = None,
    max_attempts: int = 8,
    dedupe_key: str | None = None,
) -> Job:
    """Add a job in the caller's transaction. With ``dedupe_key``, an existing job is returned."""
    if dedupe_key is not None:
        existing = _by_dedupe_key(session, dedupe_key)
        if existing is not None:
            return existing
    now = clock.now()
    job = Job(
        id=new_id(),
        kind=kind,
        payload=payload or {},
        state=PENDING,
        run_at=run_at or now,
        attempts=0,
        max_attempts=max_attempts,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    if dedupe_key is None:
        session.add(job)
        session.flush()
        return job
    try:
        # A savepoint, so that losing a race with another transaction enqueuing the same key
        # costs only this insert, not the caller's whole transaction.
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        existing = _by_dedupe_key(session, dedupe_key)
        if existing is None:
            raise
        return existing
    return job


def _by_dedupe_key(session: Session, dedupe_key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)).one_or_none()


def ensure_periodic(session: Session, clock: Clock, registry: JobRegistry) -> None:
    """Make sure each periodic job kind has its one row; safe to call from many workers."""
    for kind, jt in registry.types.items():
        if jt.every_seconds is None:
            continue
        key = f"periodic:{kind}"
        if session.scalars(select(Job.id).where(Job.dedupe_key == key)).first() is not None:
            continue
        # enqueue copes with another worker creating the row at the same moment.
        enqueue(session, clock, kind, {}, dedupe_key=key, max_attempts=jt.max_attempts)


def fenced(job_id: uuid.UUID, worker_id: str, attempts: int) -> Any:
    return and_(
        Job.id == job_id, Job.locked_by == worker_id, Job.attempts == attempts, Job.state == RUNNING
    )


def renew(session: Session, clock: Clock, job: Job, worker_id: str, lease_seconds: float) -> bool:
    """Extend this worker's lease before it starts the job; False when the lease already ran out.

    A batch is claimed at once but run one job after another: by the time a job's turn comes
    its lease may have expired and another worker may be about to take it. Starting it anyway
    would run it twice at the same time.
    """
    now = clock.now()
    result = session.execute(
        update(Job)
        .where(fenced(job.id, worker_id, job.attempts), Job.locked_until > now)
        .values(locked_until=now + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def renew_many(
    session: Session, clock: Clock, batch: list[Job], worker_id: str, lease_seconds: float
) -> list[Job]:
    """``renew`` for several jobs in one statement; returns the jobs still held."""
    if len(batch) == 1:
        held = renew(session, clock, batch[0], worker_id, lease_seconds)
        return list(batch) if held else []
    now = clock.now()
    renewed = set(
        session.scalars(
            update(Job)
            .where(
                tuple_(Job.id, Job.attempts).in_([(j.id, j.attempts) for j in batch]),
                Job.locked_by == worker_id,
                Job.state == RUNNING,
                Job.locked_until > now,
            )
            .values(locked_until=now + dt.timedelta(seconds=lease_seconds))
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
    )
    return [j for j in batch if j.id in renewed]
