"""The ``lantern worker`` loop: claim due jobs, run their handlers, stop gracefully."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core import jobs
from core.clock import Clock
from core.context import request_id_var

log = logging.getLogger(__name__)


class Worker:
    """Runs due jobs from the database; any number of workers may run side by side."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        registry: jobs.JobRegistry,
        clock: Clock,
        deps: Mapping[str, Any] | None = None,
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
        self.deps = deps or {}
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
            claimed = jobs.claim(
                session,
                self.clock,
                self.worker_id,
                limit=self.batch_size,
                lease_seconds=self.lease_seconds,
            )
        waiting = list(claimed)
        lock = threading.Lock()

        def next_job() -> uuid.UUID | None:
            with lock:
                if self.stopping.is_set() or not waiting:
                    return None
                return waiting.pop(0)

        def drain() -> None:
            while (job_id := next_job()) is not None:
                self._run(job_id)

        if self._pool is None:
            drain()
        else:
            for future in [
                self._pool.submit(drain) for _ in range(min(self.threads, len(claimed)))
            ]:
                future.result()
        if waiting:
            # Stopping: the jobs at hand are finished, the rest go back to the queue now
            # (rather than when their leases run out), their tries unspent.
            self._release(waiting)
        return len(claimed)

    def _release(self, job_ids: list[uuid.UUID]) -> None:
        with self.session_factory() as session:
            for job_id in job_ids:
                job = session.get(jobs.Job, job_id)
                if job is not None:
                    jobs.release(session, job, self.worker_id)
            session.commit()

    def _run(self, job_id: uuid.UUID) -> None:
        token = request_id_var.set(f"job-{job_id.hex[:12]}")
        try:
            with self.session_factory() as session:
                job = session.get(jobs.Job, job_id)
                if job is None or job.locked_by != self.worker_id:
                    return
                if not jobs.renew(session, self.clock, job, self.worker_id, self.lease_seconds):
                    session.rollback()
                    return  # its lease ran out while it waited its turn: another worker's now
                session.commit()
                jt = self.registry.get(job.kind)
                try:
                    if jt is None:
                        raise jobs.PermanentJobError("no handler")
                    if job.attempts > jobs.attempts_allowed(job, jt):
                        # Every allowed try was claimed; the last one's worker died mid-job.
                        raise jobs.WorkerVanished("the last try was lost with its worker")
                    jt.handler(
                        jobs.JobContext(session, self.clock, job, self.deps), dict(job.payload)
                    )
                    if jobs.complete(session, self.clock, job, self.worker_id, jt):
                        session.commit()
                    else:
                        # Our lease ran out and another worker owns the job now: our effects
                        # must not land beside theirs.
                        session.rollback()
                        log.warning(
                            "job lease lost",
                            extra={"event": "job_lease_lost", "job_kind": job.kind},
                        )
                except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
                    session.rollback()
                    job = session.get(jobs.Job, job_id)
                    if job is None:
                        return
                    state = jobs.fail(session, self.clock, job, self.worker_id, jt, exc)
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
        finally:
            request_id_var.reset(token)

    def run_forever(self, max_idle_loops: int | None = None) -> None:
        """Loop until SIGTERM/SIGINT (or ``stop()``); finishes the job at hand first."""
        idle = 0
        log.info("worker started", extra={"event": "worker_started", "worker": self.worker_id})
        while not self.stopping.is_set():
            try:
                done = self.run_once()
            except Exception as exc:  # noqa: BLE001 - a database blink must not kill the worker
                log.error(
                    "worker loop error",
                    extra={"event": "worker_error", "error": type(exc).__name__},
                )
                done = 0
            if done == 0:
                idle += 1
                if max_idle_loops is not None and idle >= max_idle_loops:
                    break
                self.stopping.wait(self.poll_seconds)
            else:
                idle = 0
        self.close()
        log.info("worker stopped", extra={"event": "worker_stopped", "worker": self.worker_id})

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
