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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock
from core.db import Base, is_postgres
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


@dataclass
class JobContext:
    """What a handler gets: its own session (committed with the job), the clock, collaborators."""

    session: Session
    clock: Clock
    job: Job
    deps: Mapping[str, Any]


Handler = Callable[[JobContext, dict[str, Any]], None]
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

    def get(self, kind: str) -> JobType | None:
        return self.types.get(kind)


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


def _claimable(now: dt.datetime) -> Any:
    return or_(
        and_(Job.state == PENDING, Job.run_at <= now),
        and_(Job.state == RUNNING, Job.locked_until < now),
    )


def claim(
    session: Session, clock: Clock, worker_id: str, *, limit: int, lease_seconds: float
) -> list[uuid.UUID]:
    """Lease up to ``limit`` due jobs to ``worker_id``; commits the claim."""
    now = clock.now()
    stmt = select(Job.id).where(_claimable(now)).order_by(Job.run_at).limit(limit)
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    candidates = list(session.scalars(stmt))
    claimed = []
    for job_id in candidates:
        # The condition is repeated so that on SQLite (no row locks) two workers cannot both win.
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                state=RUNNING,
                locked_by=worker_id,
                locked_until=now + dt.timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(job_id)
    session.commit()
    return claimed


def _fenced(job_id: uuid.UUID, worker_id: str, attempts: int) -> Any:
    return and_(
        Job.id == job_id, Job.locked_by == worker_id, Job.attempts == attempts, Job.state == RUNNING
    )


def complete(session: Session, clock: Clock, job: Job, worker_id: str, jt: JobType | None) -> bool:
    """Mark done (or reschedule a periodic job) if this worker still holds the lease."""
    now = clock.now()
    if jt is not None and jt.every_seconds is not None:
        values: dict[str, Any] = {
            "state": PENDING,
            "run_at": now + dt.timedelta(seconds=jt.every_seconds),
            "attempts": 0,
            "locked_by": None,
            "locked_until": None,
            "last_error": None,
        }
    else:
        values = {"state": DONE, "finished_at": now, "locked_by": None, "locked_until": None}
    result = session.execute(
        update(Job)
        .where(_fenced(job.id, worker_id, job.attempts))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def renew(session: Session, clock: Clock, job: Job, worker_id: str, lease_seconds: float) -> bool:
    """Extend this worker's lease before it starts the job; False when the lease already ran out.

    A batch is claimed at once but run one job after another: by the time a job's turn comes
    its lease may have expired and another worker may be about to take it. Starting it anyway
    would run it twice at the same time.
    """
    now = clock.now()
    result = session.execute(
        update(Job)
        .where(_fenced(job.id, worker_id, job.attempts), Job.locked_until > now)
        .values(locked_until=now + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, job: Job, worker_id: str) -> bool:
    """Give back a claimed job that was never started (graceful stop): due now, try not spent."""
    result = session.execute(
        update(Job)
        .where(_fenced(job.id, worker_id, job.attempts))
        .values(
            state=PENDING,
            attempts=Job.attempts - 1,
            locked_by=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def attempts_allowed(job: Job, jt: JobType | None) -> int:
    """The stricter of the job's own limit (set at enqueue) and its kind's limit."""
    return job.max_attempts if jt is None else min(job.max_attempts, jt.max_attempts)


def fail(
    session: Session,
    clock: Clock,
    job: Job,
    worker_id: str,
    jt: JobType | None,
    error: BaseException,
) -> str:
    """Record a failed attempt: back off, or dead-letter after the last try. Returns the state.

    Periodic jobs are never dead-lettered: a periodic job is a duty (escalating a missed
    check-in, verifying the audit chain), so after its last try it waits for its next period
    with its tries reset. Returns ``LOST`` when the lease was no longer ours.
    """
    now = clock.now()
    permanent = jt is None or isinstance(error, PermanentJobError)
    exhausted = job.attempts >= attempts_allowed(job, jt)
    values: dict[str, Any] = {
        "locked_by": None,
        "locked_until": None,
        "last_error": type(error).__name__[:200] if jt else "no handler registered",
    }
    if jt is not None and jt.every_seconds is not None and (permanent or exhausted):
        values.update(
            state=PENDING, attempts=0, run_at=now + dt.timedelta(seconds=jt.every_seconds)
        )
    elif permanent or exhausted or jt is None:
        values.update(state=DEAD, finished_at=now)
    else:
        if isinstance(error, RetryLater):
            delay = max(0.0, error.seconds)
        else:
            delay = jt.backoff(job.attempts)
        values.update(state=PENDING, run_at=now + dt.timedelta(seconds=delay))
    result = session.execute(
        update(Job)
        .where(_fenced(job.id, worker_id, job.attempts))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return LOST
    state: str = values["state"]
    return state
