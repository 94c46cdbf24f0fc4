"""``lantern worker`` with a clock the walkthrough can move forward (test-only).

Usage: python -m tests.e2e.clock_worker CLOCK_FILE   (LANTERN_ variables as for the worker)

The real ``Worker``, the real job registry, the real database and the real HTTP senders: only
the clock differs. Its "now" is the system time plus the offset in CLOCK_FILE (see
``harness.ClockFile``), re-read on every tick, so the walkthrough can let a 5-minute grace
period and a 5-minute second window pass in a second instead of ten real minutes. The app
processes keep the real clock; nothing in production code can shift time.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from api.app import create_app
from api.registry import job_registry
from core.runtime import build_runtime
from core.settings import load_settings
from core.worker import Worker


class FileOffsetClock:
    """System time plus the number of seconds written in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(self.path.read_text()))


def main() -> None:
    settings = load_settings(os.environ)
    runtime = build_runtime(settings, clock=FileOffsetClock(Path(sys.argv[1])))
    create_app(settings, runtime=runtime)  # wires the runtime (api.wiring.wire)
    worker = Worker(
        runtime.session_factory,
        job_registry(runtime),
        runtime.clock,
        lease_seconds=settings.job_lease_seconds,
        batch_size=settings.job_batch_size,
        poll_seconds=settings.job_poll_seconds,
        threads=settings.worker_threads,
    )
    worker.install_signal_handlers()
    worker.run_forever()


if __name__ == "__main__":
    main()
