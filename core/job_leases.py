"""Leasing due jobs to workers: claim, complete, give back, record a failure.

Every change to a claimed job is fenced by (worker, attempt): a worker whose lease ran out and
whose job another worker took can neither complete nor fail it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.orm import Session

from core.clock import Clock
from core.db import is_postgres
from core.jobs import (
    DEAD,
    DONE,
    LOST,
    PENDING,
    RUNNING,
    Job,
    JobType,
    PermanentJobError,
    RetryLater,
    fenced,
)


def _claimable(now: dt.datetime) -> Any:
    return or_(
        and_(Job.state == PENDING, Job.run_at <= now),
        and_(Job.state == RUNNING, Job.locked_until < now),
    )


def claim(
    session: Session,
    clock: Clock,
    worker_id: str,
    *,
    limit: int,
    lease_seconds: float,
    kinds: Collection[str] | None = None,
    exclude: Collection[str] = (),
) -> list[uuid.UUID]:
    """Lease up to ``limit`` due jobs to ``worker_id`` (of ``kinds`` only, or none of
    ``exclude``), oldest due first; commits the claim."""
    now = clock.now()
    stmt = select(Job.id).where(_claimable(now)).order_by(Job.run_at).limit(limit)
    if kinds is not None:
        stmt = stmt.where(Job.kind.in_(list(kinds)))
    if exclude:
        stmt = stmt.where(Job.kind.not_in(list(exclude)))
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    candidates = list(session.scalars(stmt))
    claimed: list[uuid.UUID] = []
    if candidates:
        # One statement for the batch. The condition is repeated so that on SQLite (no row
        # locks) two workers cannot both win a job; PostgreSQL has the rows locked already.
        claimed = list(
            session.scalars(
                update(Job)
                .where(Job.id.in_(candidates), _claimable(now))
                .values(
                    state=RUNNING,
                    locked_by=worker_id,
                    locked_until=now + dt.timedelta(seconds=lease_seconds),
                    attempts=Job.attempts + 1,
                )
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            )
        )
    session.commit()
    order = {job_id: n for n, job_id in enumerate(candidates)}
    return sorted(claimed, key=order.__getitem__)


def complete(
    session: Session,
    clock: Clock,
    job: Job,
    worker_id: str,
    jt: JobType | None,
    retry_seconds: float | None = None,
    retry_reason: str = "retry_in",
) -> bool:
    """Mark done (or reschedule a periodic job, or one that asked to run again) if this worker
    still holds the lease."""
    now = clock.now()
    if retry_seconds is not None and job.attempts < attempts_allowed(job, jt):
        values: dict[str, Any] = {
            "state": PENDING,
            "run_at": now + dt.timedelta(seconds=retry_seconds),
            "locked_by": None,
            "locked_until": None,
            "last_error": retry_reason[:200],
        }
    elif jt is not None and jt.every_seconds is not None:
        values = {
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
        .where(fenced(job.id, worker_id, job.attempts))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def complete_many(session: Session, clock: Clock, batch: list[Job], worker_id: str) -> bool:
    """``complete`` for a batch of one-off jobs in one statement; False unless all were ours."""
    result = session.execute(
        update(Job)
        .where(
            tuple_(Job.id, Job.attempts).in_([(j.id, j.attempts) for j in batch]),
            Job.locked_by == worker_id,
            Job.state == RUNNING,
        )
        .values(state=DONE, finished_at=clock.now(), locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == len(batch))  # type: ignore[attr-defined]


def release(session: Session, job: Job, worker_id: str) -> bool:
    """Give back a claimed job that was never started (graceful stop): due now, try not spent."""
    result = session.execute(
        update(Job)
        .where(fenced(job.id, worker_id, job.attempts))
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
        .where(fenced(job.id, worker_id, job.attempts))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return LOST
    state: str = values["state"]
    return state
