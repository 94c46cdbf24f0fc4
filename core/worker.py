"""The ``lantern worker`` loop: claim due jobs, run their handlers, stop gracefully."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Mapping
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
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.clock = clock
        self.deps = deps or {}
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
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
        for job_id in claimed:
            if self.stopping.is_set():
                break  # the rest go back to others when their lease ends
            self._run(job_id)
        return len(claimed)

    def _run(self, job_id: uuid.UUID) -> None:
        token = request_id_var.set(f"job-{job_id.hex[:12]}")
        try:
            with self.session_factory() as session:
                job = session.get(jobs.Job, job_id)
                if job is None or job.locked_by != self.worker_id:
                    return
                jt = self.registry.get(job.kind)
                try:
                    if jt is None:
                        raise jobs.PermanentJobError("no handler")
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
        log.info("worker stopped", extra={"event": "worker_stopped", "worker": self.worker_id})

    def stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
