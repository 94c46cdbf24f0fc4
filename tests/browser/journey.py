"""What the journey test sets up behind the browser's back: the worker running beside the
server, and a check-in the survivor misses while the advocate watches."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from api.registry import job_registry
from core.audit import Actor
from core.worker import Worker
from messaging.checkins import arrangements
from messaging.checkins.occurrences import add_occurrence
from tests.browser.server import LiveConsole


@contextmanager
def worker_running(live: LiveConsole) -> Iterator[Worker]:
    """``lantern worker`` in a thread of the test, on the server's database and clock."""
    rt = live.runtime
    worker = Worker(rt.session_factory, job_registry(rt), rt.clock, poll_seconds=0.2)
    thread = threading.Thread(target=worker.run_forever, name="journey-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=15)
        worker.close()


def miss_a_check_in(live: LiveConsole, survivor_id: uuid.UUID) -> None:
    """A check-in in the app that came due 40 minutes ago and was never answered: its grace
    (30 minutes) ended 10 minutes ago, so the worker's timer escalates it at once."""
    rt = live.runtime
    now = rt.clock.now()
    with live.session() as s:
        new = arrangements.NewSchedule(
            kind="one_off", channel="app", due_at=now + dt.timedelta(hours=2)
        )
        schedule = arrangements.create_schedule(
            s, rt.clock, rt.vault, Actor("survivor", survivor_id), survivor_id, new
        )
        settings = arrangements.get_settings(s, rt.clock, survivor_id)
        occurrence = add_occurrence(
            s, rt.clock, rt.vault, settings, schedule, now - dt.timedelta(minutes=40)
        )
        assert occurrence is not None
        s.commit()
