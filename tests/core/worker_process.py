"""A real ``Worker`` in its own process, for the SIGKILL and SIGTERM drills in test_jobs.py.

Usage: python -m tests.core.worker_process DATABASE_URL MARKER_DIR LEASE_SECONDS

Job kinds:
- ``block``: marks ``started-<job id>`` in MARKER_DIR, sleeps ``payload["seconds"]``, then
  enqueues an ``effect`` job (dedupe key ``effect:<job id>:<worker>``) in its own transaction,
  so the effect exists exactly when the job's transaction committed.
- ``quick``: only the effect.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from core import jobs
from core.clock import SystemClock
from core.db import make_engine, make_session_factory
from core.worker import Worker


def effect(ctx: jobs.JobContext, tag: str) -> None:
    jobs.enqueue(
        ctx.session,
        ctx.clock,
        "effect",
        {"job": str(ctx.job.id), "by": tag},
        run_at=ctx.clock.now().replace(year=2100),  # never run: it is only evidence
        dedupe_key=f"effect:{ctx.job.id}:{tag}",
    )


def main() -> None:
    url, marker_dir, lease = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    engine = make_engine(url)
    registry = jobs.JobRegistry()
    worker_id = f"proc-{os.getpid()}"

    def block(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        (marker_dir / f"started-{ctx.job.id}").touch()
        time.sleep(float(payload.get("seconds", 0)))
        effect(ctx, worker_id)

    def quick(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        effect(ctx, worker_id)

    registry.register("block", block)
    registry.register("quick", quick)
    worker = Worker(
        make_session_factory(engine),
        registry,
        SystemClock(),
        worker_id=worker_id,
        lease_seconds=lease,
        batch_size=10,
        poll_seconds=0.05,
    )
    worker.install_signal_handlers()
    (marker_dir / "ready").touch()
    worker.run_forever()
    engine.dispose()
    (marker_dir / "stopped").touch()


if __name__ == "__main__":
    main()
