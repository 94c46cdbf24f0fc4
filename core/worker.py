"""The ``lantern worker`` loop: claim due jobs, run their handlers, stop gracefully."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import job_leases, jobs
from core.clock import Clock
from core.context import request_id_var

log = logging.getLogger(__name__)

#: How often a running worker makes sure every periodic job has its row.
PERIODIC_CHECK_SECONDS = 30.0
#: Batches of one kind a worker takes per claim: the rest of a burst is left to other workers.
BATCHES_PER_CLAIM = 2


class Worker:
    """Runs due jobs from the database; any number of workers may run side by side."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        registry: jobs.JobRegistry,
        clock: Clock,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        batch_size: int = 20,
        poll_seconds: float = 1.0,
        threads: int = 1,
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        # Jobs mostly wait on the network (Twilio, partner webhooks): a few threads per worker
        # keep a burst of check-ins moving while each send waits for its answer.
        self.threads = max(1, threads)
        self.batch_size = max(batch_size, self.threads * 2)
        self._pool = ThreadPoolExecutor(self.threads, "lantern-job") if self.threads > 1 else None
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Claim one batch and run it; returns how many jobs were attempted."""
        with self.session_factory() as session:
            jobs.ensure_periodic(session, self.clock, self.registry)
            session.commit()
            claimed = job_leases.claim(
                session,
                self.clock,
                self.worker_id,
                limit=self.batch_size,
                lease_seconds=self.lease_seconds,
            )
            waiting = self._group(session, claimed)
        lock = threading.Lock()

        def next_group() -> list[uuid.UUID] | None:
            with lock:
                if self.stopping.is_set() or not waiting:
                    return None
                return waiting.pop(0)

        def drain() -> None:
            while (group := next_group()) is not None:
                self._run(group)

        if self._pool is None:
            drain()
        else:
            for future in [
                self._pool.submit(drain) for _ in range(min(self.threads, len(waiting)))
            ]:
                future.result()
        if waiting:
            # Stopping: the jobs at hand are finished, the rest go back to the queue now
            # (rather than when their leases run out), their tries unspent.
            self._release([job_id for group in waiting for job_id in group])
        return len(claimed)

    def _group(self, session: Session, job_ids: list[uuid.UUID]) -> list[list[uuid.UUID]]:
        """Jobs of a batch kind together (up to its batch size), every other job alone."""
        sizes = self.registry.batch_kinds()
        if not sizes or not job_ids:
            return [[job_id] for job_id in job_ids]
        kinds: dict[uuid.UUID, str] = {
            job_id: kind
            for job_id, kind in session.execute(
                select(jobs.Job.id, jobs.Job.kind).where(jobs.Job.id.in_(job_ids))
            )
        }
        groups: list[list[uuid.UUID]] = []
        open_group: dict[str, list[uuid.UUID]] = {}
        for job_id in job_ids:
            kind = kinds.get(job_id, "")
            if kind not in sizes:
                groups.append([job_id])
                continue
            group = open_group.get(kind)
            if group is None or len(group) >= sizes[kind]:
                group = open_group[kind] = []
                groups.append(group)
            group.append(job_id)
        return groups

    def _claim_groups(self, session: Session, free: int) -> list[list[uuid.UUID]]:
        """Up to ``free`` groups: batches of batch kinds first (a couple at a time, so that
        other workers share a burst), then single jobs for the threads left."""
        groups: list[list[uuid.UUID]] = []
        sizes = self.registry.batch_kinds()
        for kind, size in sizes.items():
            room = min(free - len(groups), BATCHES_PER_CLAIM)
            if room <= 0:
                break
            ids = job_leases.claim(
                session,
                self.clock,
                self.worker_id,
                limit=room * size,
                lease_seconds=self.lease_seconds,
                kinds=[kind],
            )
            groups += [ids[n : n + size] for n in range(0, len(ids), size)]
        if free > len(groups):
            ids = job_leases.claim(
                session,
                self.clock,
                self.worker_id,
                limit=free - len(groups),
                lease_seconds=self.lease_seconds,
                exclude=list(sizes),
            )
            groups += [[job_id] for job_id in ids]
        return groups

    def _release(self, job_ids: list[uuid.UUID]) -> None:
        with self.session_factory() as session:
            for job_id in job_ids:
                job = session.get(jobs.Job, job_id)
                if job is not None:
                    job_leases.release(session, job, self.worker_id)
            session.commit()

    def _run(self, job_ids: list[uuid.UUID]) -> None:
        """Run one job, or one batch of a batch kind, in one transaction."""
        token = request_id_var.set(f"job-{job_ids[0].hex[:12]}")
        try:
            with self.session_factory() as session:
                found = {
                    j.id: j
                    for j in session.scalars(select(jobs.Job).where(jobs.Job.id.in_(job_ids)))
                }
                mine = [
                    found[i] for i in job_ids if i in found and found[i].locked_by == self.worker_id
                ]
                # A job whose lease ran out while it waited its turn is another worker's now.
                held = jobs.renew_many(
                    session, self.clock, mine, self.worker_id, self.lease_seconds
                )
                session.commit()
                if not held:
                    return
                jt = self.registry.get(held[0].kind)
                vanished = [
                    j
                    for j in held
                    if jt is not None and j.attempts > job_leases.attempts_allowed(j, jt)
                ]
                for job in vanished:
                    # Every allowed try was claimed; the last one's worker died mid-job.
                    self._fail(
                        session,
                        [job],
                        jt,
                        jobs.WorkerVanished("the last try was lost with its worker"),
                    )
                held = [j for j in held if j not in vanished]
                if held:
                    self._handle(session, held, jt)
        finally:
            request_id_var.reset(token)

    def _handle(self, session: Session, held: list[jobs.Job], jt: jobs.JobType | None) -> None:
        try:
            if jt is None:
                raise jobs.PermanentJobError("no handler")
            ctx = jobs.JobContext(
                session,
                self.clock,
                held[0],
                self.worker_id,
                self.lease_seconds,
                batch=held,
            )
            if jt.batch_handler is not None:
                jt.batch_handler(ctx, [dict(j.payload) for j in held])
            else:
                jt.handler(ctx, dict(held[0].payload))
            if len(held) > 1 and jt.every_seconds is None and ctx.retry_seconds is None:
                completed = [job_leases.complete_many(session, self.clock, held, self.worker_id)]
            else:
                completed = [
                    job_leases.complete(
                        session,
                        self.clock,
                        job,
                        self.worker_id,
                        jt,
                        ctx.retry_seconds,
                        ctx.retry_reason,
                    )
                    for job in held
                ]
            if all(completed):
                session.commit()
            else:
                # Our lease ran out and another worker owns a job now: our effects must not
                # land beside theirs.
                session.rollback()
                log.warning(
                    "job lease lost", extra={"event": "job_lease_lost", "job_kind": held[0].kind}
                )
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            session.rollback()
            self._fail(session, held, jt, exc)

    def _fail(
        self, session: Session, held: list[jobs.Job], jt: jobs.JobType | None, exc: Exception
    ) -> None:
        for stale in held:
            job = session.get(jobs.Job, stale.id, populate_existing=True)
            if job is None:
                continue
            state = job_leases.fail(session, self.clock, job, self.worker_id, jt, exc)
            session.commit()
            log.warning(
                "job failed",
                extra={
                    "event": "job_failed",
                    "job_kind": job.kind,
                    "attempt": job.attempts,
                    "state": state,
                    "error": type(exc).__name__,
                },
            )

    def run_forever(self, max_idle_loops: int | None = None) -> None:
        """Loop until SIGTERM/SIGINT (or ``stop()``); finishes the jobs at hand first."""
        log.info("worker started", extra={"event": "worker_started", "worker": self.worker_id})
        if self._pool is None:
            self._run_batches(max_idle_loops)
        else:
            self._run_pipelined(self._pool, max_idle_loops)
        self.close()
        log.info("worker stopped", extra={"event": "worker_stopped", "worker": self.worker_id})

    def _run_batches(self, max_idle_loops: int | None) -> None:
        idle = 0
        while not self.stopping.is_set():
            try:
                done = self.run_once()
            except Exception as exc:  # noqa: BLE001 - a database blink must not kill the worker
                self._log_loop_error(exc)
                done = 0
            if done == 0:
                idle += 1
                if max_idle_loops is not None and idle >= max_idle_loops:
                    break
                self.stopping.wait(self.poll_seconds)
            else:
                idle = 0

    def _run_pipelined(self, pool: ThreadPoolExecutor, max_idle_loops: int | None) -> None:
        """Keep every thread busy: claim more as soon as a quarter of them are free, instead
        of waiting for a whole batch to finish (a burst of check-ins would otherwise wait on
        each batch's slowest send)."""
        in_flight: set[Future[None]] = set()
        idle, periodic_due = 0, 0.0
        refill_at = max(1, self.threads // 4)
        while not self.stopping.is_set():
            for future in [f for f in in_flight if f.done()]:
                in_flight.discard(future)
                if (exc := future.exception()) is not None:
                    self._log_loop_error(exc)
            free = self.threads - len(in_flight)
            if free >= refill_at or not in_flight:
                try:
                    with self.session_factory() as session:
                        if time.monotonic() >= periodic_due:
                            jobs.ensure_periodic(session, self.clock, self.registry)
                            session.commit()
                            periodic_due = time.monotonic() + PERIODIC_CHECK_SECONDS
                        claimed = self._claim_groups(session, free)
                except Exception as exc:  # noqa: BLE001 - a database blink must not kill it
                    self._log_loop_error(exc)
                    claimed = []
                in_flight.update(pool.submit(self._run, group) for group in claimed)
            if in_flight:
                idle = 0
                # Wake when a job finishes (its thread is free again) or to look for new work.
                wait(in_flight, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
                continue
            idle += 1
            if max_idle_loops is not None and idle >= max_idle_loops:
                break
            self.stopping.wait(self.poll_seconds)
        wait(in_flight)  # stopping: finish the jobs at hand (each claimed job started at once)

    @staticmethod
    def _log_loop_error(exc: BaseException) -> None:
        log.error("worker loop error", extra={"event": "worker_error", "error": type(exc).__name__})

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
