"""core.jobs and core.worker: durable jobs that run once, retry, die loudly and survive kills."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import job_leases, jobs
from core.clock import FrozenClock, SystemClock
from core.db import make_engine, make_session_factory
from core.jobs import DEAD, DONE, PENDING, RUNNING, Job, JobContext, JobRegistry
from core.worker import Worker
from tests.core.conftest import PG_ONLY

REPO = Path(__file__).resolve().parents[2]

Calls = list[tuple[str, uuid.UUID]]


def _reload(session_factory: sessionmaker[Session], job_id: uuid.UUID) -> Job:
    with session_factory() as s:
        job = s.get(Job, job_id)
        assert job is not None
        s.expunge(job)
        return job


def _count(session_factory: sessionmaker[Session], *where: Any) -> int:
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(Job).where(*where)) or 0)


def _recording(calls: Calls, name: str = "") -> jobs.Handler:
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append((name or ctx.worker_id or "?", ctx.job.id))

    return handler


def _raising(exc: BaseException) -> jobs.Handler:
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise exc

    return handler


def _enqueue(
    session_factory: sessionmaker[Session], clock: FrozenClock, kind: str, **kwargs: Any
) -> uuid.UUID:
    with session_factory() as s:
        job = jobs.enqueue(s, clock, kind, **kwargs)
        s.commit()
        return job.id


# --- enqueue ------------------------------------------------------------------------------


def test_enqueue_belongs_to_the_callers_transaction(
    backend: str, committed_sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with committed_sessions() as s:
        jobs.enqueue(s, clock, "send", {"n": 1})
        s.rollback()  # the change that caused the job failed: no job either
    assert _count(committed_sessions) == 0

    with committed_sessions() as s:
        job = jobs.enqueue(s, clock, "send", {"n": 2})
        if backend == "postgresql":
            # Not visible to a worker until the caller commits. (SQLite takes the write lock
            # for every transaction, so a second connection would wait instead of looking.)
            assert _count(committed_sessions) == 0
        s.commit()
    stored = _reload(committed_sessions, job.id)
    assert (stored.state, stored.payload, stored.attempts) == (PENDING, {"n": 2}, 0)


def test_dedupe_key_returns_the_existing_job(db_session: Session, clock: FrozenClock) -> None:
    first = jobs.enqueue(db_session, clock, "deliver", {"v": 1}, dedupe_key="alert:42")
    clock.advance(minutes=5)
    again = jobs.enqueue(db_session, clock, "deliver", {"v": 2}, dedupe_key="alert:42")
    assert again.id == first.id
    assert again.payload == {"v": 1}
    other = jobs.enqueue(db_session, clock, "deliver", {"v": 3}, dedupe_key="alert:43")
    assert other.id != first.id
    assert len(db_session.scalars(select(Job)).all()) == 2


def test_racing_enqueues_of_one_dedupe_key_make_one_job(
    committed_db: str, engine_factory: Callable[[str], Engine], clock: FrozenClock
) -> None:
    # The loser of the race (blocked on the unique index until the winner commits) gets the
    # winner's job back, and its own transaction carries on.
    first = make_session_factory(engine_factory(committed_db))()
    second_factory = make_session_factory(engine_factory(committed_db))
    winner = jobs.enqueue(first, clock, "deliver", {"by": "first"}, dedupe_key="k")
    got: dict[str, uuid.UUID] = {}
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with second_factory() as s:
                got["dup"] = jobs.enqueue(s, clock, "deliver", {"by": "second"}, dedupe_key="k").id
                got["other"] = jobs.enqueue(s, clock, "other", {}).id
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    first.commit()
    first.close()
    thread.join(10)
    assert errors == []
    assert not thread.is_alive()
    assert got["dup"] == winner.id
    assert _count(second_factory) == 2
    assert _reload(second_factory, winner.id).payload == {"by": "first"}


# --- retries, dead letters, periodic jobs ---------------------------------------------------


def test_failures_back_off_exponentially_then_dead_letter(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    registry = JobRegistry()
    # The message holds a phone number: it must not reach the job row.
    registry.register("flaky", _raising(RuntimeError("+447911123456 unreachable")), max_attempts=4)
    worker = Worker(session_factory, registry, clock)
    job_id = _enqueue(session_factory, clock, "flaky")
    previous_run_at = clock.now()
    for attempt in (1, 2, 3):
        assert worker.run_once() == 1
        job = _reload(session_factory, job_id)
        assert (job.state, job.attempts, job.locked_by) == (PENDING, attempt, None)
        assert job.last_error == "RuntimeError"
        delay = (job.run_at - clock.now()).total_seconds()
        ceiling = 5.0 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling, (attempt, delay)
        assert job.run_at > previous_run_at
        previous_run_at = job.run_at
        assert worker.run_once() == 0  # not due before its time
        clock.set(job.run_at)
    assert worker.run_once() == 1
    job = _reload(session_factory, job_id)
    assert (job.state, job.attempts, job.finished_at) == (DEAD, 4, clock.now())
    clock.advance(days=30)
    assert worker.run_once() == 0  # a dead letter stays dead


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    for attempt in range(1, 8):
        ceiling = min(3600.0, 5.0 * 2 ** (attempt - 1))
        samples = [jobs.exponential_backoff(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 150  # jittered: workers retrying together spread out
    assert 1800 <= jobs.exponential_backoff(40) <= 3600


def test_permanent_error_dead_letters_at_once(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    registry = JobRegistry()
    registry.register("bad", _raising(jobs.PermanentJobError("410 gone")), max_attempts=8)
    job_id = _enqueue(session_factory, clock, "bad")
    assert Worker(session_factory, registry, clock).run_once() == 1
    job = _reload(session_factory, job_id)
    assert (job.state, job.attempts, job.last_error) == (DEAD, 1, "PermanentJobError")


def test_unknown_kind_dead_letters(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = _enqueue(session_factory, clock, "nobody-handles-this")
    assert Worker(session_factory, JobRegistry(), clock).run_once() == 1
    job = _reload(session_factory, job_id)
    assert (job.state, job.last_error) == (DEAD, "no handler registered")


def test_retry_later_honours_its_delay(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    registry = JobRegistry()
    registry.register("later", _raising(jobs.RetryLater(42.5)))
    registry.register("now", _raising(jobs.RetryLater(-5)))
    later = _enqueue(session_factory, clock, "later")
    now = _enqueue(session_factory, clock, "now")
    assert Worker(session_factory, registry, clock).run_once() == 2
    job = _reload(session_factory, later)
    assert (job.state, job.attempts) == (PENDING, 1)
    assert job.run_at == clock.now() + dt.timedelta(seconds=42.5)
    assert _reload(session_factory, now).run_at == clock.now()  # never in the past


def test_a_jobs_own_max_attempts_is_honoured(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    registry = JobRegistry()
    registry.register("flaky", _raising(RuntimeError()), max_attempts=8)
    job_id = _enqueue(session_factory, clock, "flaky", max_attempts=2)
    worker = Worker(session_factory, registry, clock)
    worker.run_once()
    clock.set(_reload(session_factory, job_id).run_at)
    worker.run_once()
    assert _reload(session_factory, job_id).state == DEAD


def test_periodic_jobs_reschedule_themselves(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    calls: Calls = []
    registry = JobRegistry()
    registry.register("sweep", _recording(calls, "sweep"), every_seconds=60)
    worker = Worker(session_factory, registry, clock)
    assert worker.run_once() == 1  # created on first start, due at once
    with session_factory() as s:
        job = s.scalars(select(Job).where(Job.dedupe_key == "periodic:sweep")).one()
    assert (job.state, job.attempts, job.run_at) == (
        PENDING,
        0,
        clock.now() + dt.timedelta(seconds=60),
    )
    clock.advance(seconds=59)
    assert worker.run_once() == 0
    clock.advance(seconds=1)
    assert worker.run_once() == 1
    assert Worker(session_factory, registry, clock).run_once() == 0  # another worker: no twin
    assert len(calls) == 2
    assert _count(session_factory) == 1


def test_a_failing_periodic_job_is_never_dead_lettered(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    # Periodic jobs are duties (escalating missed check-ins): after the last try they wait
    # for their next period instead of stopping for good.
    registry = JobRegistry()
    registry.register(
        "escalate", _raising(jobs.PermanentJobError()), every_seconds=300, max_attempts=3
    )
    worker = Worker(session_factory, registry, clock)
    for _ in range(3):
        assert worker.run_once() == 1
        with session_factory() as s:
            job = s.scalars(select(Job).where(Job.kind == "escalate")).one()
        assert (job.state, job.attempts) == (PENDING, 0)
        assert job.run_at == clock.now() + dt.timedelta(seconds=300)
        assert job.last_error == "PermanentJobError"
        clock.set(job.run_at)


# --- leases and fencing -----------------------------------------------------------------------


def test_a_worker_that_lost_its_lease_cannot_complete_or_fail_the_job(
    db_session: Session, clock: FrozenClock
) -> None:
    jt = jobs.JobType(handler=_recording([]))
    job_id = jobs.enqueue(db_session, clock, "x").id
    assert job_leases.claim(db_session, clock, "A", limit=5, lease_seconds=30) == [job_id]
    as_a = db_session.get(Job, job_id)
    assert as_a is not None
    assert (as_a.locked_by, as_a.attempts) == ("A", 1)
    db_session.expunge(as_a)  # A's view of the job, frozen
    assert job_leases.claim(db_session, clock, "B", limit=5, lease_seconds=30) == []  # lease holds
    clock.advance(seconds=31)
    assert job_leases.claim(db_session, clock, "B", limit=5, lease_seconds=30) == [job_id]

    assert job_leases.complete(db_session, clock, as_a, "A", jt) is False
    assert job_leases.fail(db_session, clock, as_a, "A", jt, RuntimeError()) == jobs.LOST
    assert jobs.renew(db_session, clock, as_a, "A", 30) is False
    assert job_leases.release(db_session, as_a, "A") is False
    db_session.expire_all()
    as_b = db_session.get(Job, job_id)
    assert as_b is not None
    assert (as_b.state, as_b.locked_by, as_b.attempts) == (RUNNING, "B", 2)
    assert job_leases.complete(db_session, clock, as_b, "B", jt) is True
    db_session.expire_all()
    assert db_session.get_one(Job, job_id).state == DONE


@pytest.mark.postgres
def test_effects_of_a_worker_that_lost_its_lease_roll_back(
    backend: str, committed_db: str, engine_factory: Callable[[str], Engine]
) -> None:
    if backend != "postgresql":
        pytest.skip(PG_ONLY)
    clock, lease = FrozenClock(), 10.0
    factory_a = make_session_factory(engine_factory(committed_db))
    factory_b = make_session_factory(engine_factory(committed_db))
    registry = JobRegistry()
    workers: dict[str, Worker] = {}

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        who = ctx.worker_id
        jobs.enqueue(ctx.session, ctx.clock, "effect", {}, dedupe_key=f"effect:{who}")
        if who == "A":
            # While A is still busy, its lease runs out and B takes the job and finishes it.
            clock.advance(seconds=lease + 1)
            assert workers["B"].run_once() == 1

    registry.register("charge", handler)
    for who, factory in (("A", factory_a), ("B", factory_b)):
        workers[who] = Worker(factory, registry, clock, worker_id=who, lease_seconds=lease)
    job_id = _enqueue(factory_a, clock, "charge")
    assert workers["A"].run_once() == 1

    job = _reload(factory_a, job_id)
    assert (job.state, job.attempts) == (DONE, 2)
    with factory_a() as s:
        effects = s.scalars(select(Job.dedupe_key).where(Job.kind == "effect")).all()
    assert effects == ["effect:B"]  # A's effect rolled back with its lost lease


def test_a_job_whose_lease_ran_out_in_the_batch_is_not_started(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    # A batch is claimed at once and run in turn; when a slow job eats the next one's lease,
    # that one may already be another worker's: it must be skipped, not started.
    calls: Calls = []

    def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append((ctx.worker_id or "?", ctx.job.id))
        clock.advance(seconds=31)

    registry = JobRegistry()
    registry.register("slow", slow)
    first = _enqueue(session_factory, clock, "slow")
    clock.advance(microseconds=1)
    second = _enqueue(session_factory, clock, "slow")
    a = Worker(session_factory, registry, clock, worker_id="A", lease_seconds=30)
    b = Worker(session_factory, registry, clock, worker_id="B", lease_seconds=30)
    assert a.run_once() == 2
    assert calls == [("A", first)]
    assert b.run_once() == 1
    assert calls == [("A", first), ("B", second)]
    assert {_reload(session_factory, j).state for j in (first, second)} == {DONE}


def test_a_job_that_keeps_killing_its_worker_is_dead_lettered(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    calls: Calls = []
    registry = JobRegistry()
    registry.register("poison", _recording(calls, "w"))
    job_id = _enqueue(session_factory, clock, "poison", max_attempts=2)
    for _ in range(2):  # two workers claim it and die before finishing
        with session_factory() as s:
            assert job_leases.claim(s, clock, "ghost", limit=1, lease_seconds=10) == [job_id]
        clock.advance(seconds=11)
    assert Worker(session_factory, registry, clock).run_once() == 1
    job = _reload(session_factory, job_id)
    assert (job.state, job.last_error) == (DEAD, "WorkerVanished")
    assert calls == []


def test_stopping_hands_back_the_jobs_not_yet_started(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    calls: Calls = []
    registry = JobRegistry()
    worker = Worker(session_factory, registry, clock, lease_seconds=60)

    def stop_after(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append(("w", ctx.job.id))
        worker.stop()

    registry.register("job", stop_after)
    ids = []
    for _ in range(3):
        ids.append(_enqueue(session_factory, clock, "job"))
        clock.advance(microseconds=1)
    assert worker.run_once() == 3
    assert calls == [("w", ids[0])]
    assert _reload(session_factory, ids[0]).state == DONE
    for job_id in ids[1:]:
        job = _reload(session_factory, job_id)
        # Due now for any other worker, and the try it never had is not counted.
        assert (job.state, job.attempts, job.locked_by, job.locked_until) == (
            PENDING,
            0,
            None,
            None,
        )


# --- many workers, real processes -------------------------------------------------------------


@pytest.mark.postgres
def test_two_workers_racing_over_a_thousand_jobs_run_each_exactly_once(
    backend: str, committed_db: str, engine_factory: Callable[[str], Engine]
) -> None:
    if backend != "postgresql":
        pytest.skip(PG_ONLY)
    total = 1000
    clock = SystemClock()
    lock = threading.Lock()
    running: set[uuid.UUID] = set()
    runs: list[tuple[uuid.UUID, str | None, float, float]] = []
    overlaps: list[uuid.UUID] = []

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        with lock:
            if ctx.job.id in running:
                overlaps.append(ctx.job.id)
            running.add(ctx.job.id)
        start = time.monotonic()
        time.sleep(0.0005)  # give the other worker a chance to collide
        with lock:
            running.discard(ctx.job.id)
            runs.append((ctx.job.id, ctx.worker_id, start, time.monotonic()))

    registry = JobRegistry()
    registry.register("race", handler)
    setup = make_session_factory(engine_factory(committed_db))
    with setup() as s:
        s.add_all(
            Job(
                id=uuid.uuid4(),
                kind="race",
                payload={},
                state=PENDING,
                run_at=clock.now(),
                attempts=0,
                max_attempts=8,
                created_at=clock.now(),
            )
            for _ in range(total)
        )
        s.commit()

    workers = [
        Worker(
            make_session_factory(engine_factory(committed_db)),
            registry,
            clock,
            worker_id=who,
            lease_seconds=60,
            batch_size=10,
            poll_seconds=0.05,
        )
        for who in ("A", "B")
    ]
    barrier = threading.Barrier(2)

    def run(w: Worker) -> None:
        barrier.wait(10)
        w.run_forever(max_idle_loops=3)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)

    assert overlaps == []
    per_job: dict[uuid.UUID, list[tuple[str | None, float, float]]] = {}
    for job_id, who, start, end in runs:
        per_job.setdefault(job_id, []).append((who, start, end))
    assert len(per_job) == total
    assert all(len(v) == 1 for v in per_job.values()), "a job ran more than once"
    by_worker = {who: sum(1 for _, w, _, _ in runs if w == who) for who in ("A", "B")}
    assert min(by_worker.values()) > 0, by_worker  # both really took part
    assert _count(setup, Job.state == DONE, Job.attempts == 1) == total


@pytest.fixture
def spawn_worker(
    committed_db: str, tmp_path: Path
) -> Iterator[Callable[[float], tuple[subprocess.Popen[bytes], Path]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(lease: float) -> tuple[subprocess.Popen[bytes], Path]:
        markers = tmp_path / f"markers-{len(procs)}"
        markers.mkdir()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.core.worker_process",
                committed_db,
                str(markers),
                str(lease),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        return proc, markers

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _effects(factory: sessionmaker[Session]) -> list[str]:
    with factory() as s:
        return sorted(
            key or "" for key in s.scalars(select(Job.dedupe_key).where(Job.kind == "effect"))
        )


def test_a_worker_killed_mid_job_leaves_it_to_another_after_its_lease(
    committed_db: str,
    committed_sessions: sessionmaker[Session],
    spawn_worker: Callable[[float], tuple[subprocess.Popen[bytes], Path]],
) -> None:
    lease = 3.0  # short, yet long enough that a busy machine cannot outrun it by accident
    clock = SystemClock()
    with committed_sessions() as s:
        job_id = jobs.enqueue(s, clock, "block", {"seconds": 60}).id
        s.commit()
    proc, markers = spawn_worker(lease)
    _wait_for(lambda: (markers / f"started-{job_id}").exists(), 30, "the job to start")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    killed_at = time.monotonic()

    calls: Calls = []
    registry = JobRegistry()
    registry.register("block", _recording(calls, "rescuer"))
    rescuer = Worker(committed_sessions, registry, clock, worker_id="rescuer", lease_seconds=lease)
    assert rescuer.run_once() == 0  # the dead worker's lease still holds
    job = _reload(committed_sessions, job_id)
    assert (job.state, job.locked_by) == (RUNNING, f"proc-{proc.pid}")

    _wait_for(lambda: rescuer.run_once() == 1, lease + 5, "the lease to run out")
    assert time.monotonic() - killed_at < lease + 5
    job = _reload(committed_sessions, job_id)
    assert (job.state, job.attempts) == (DONE, 2)
    assert calls == [("rescuer", job_id)]
    assert _effects(committed_sessions) == []  # nothing of the killed attempt landed


def test_sigterm_finishes_the_job_at_hand_then_exits(
    committed_db: str,
    committed_sessions: sessionmaker[Session],
    spawn_worker: Callable[[float], tuple[subprocess.Popen[bytes], Path]],
) -> None:
    clock = SystemClock()
    with committed_sessions() as s:
        busy = jobs.enqueue(s, clock, "block", {"seconds": 1.0}).id
        waiting = jobs.enqueue(
            s, clock, "quick", {}, run_at=clock.now() + dt.timedelta(milliseconds=1)
        ).id
        s.commit()
    proc, markers = spawn_worker(30.0)
    _wait_for(lambda: (markers / f"started-{busy}").exists(), 30, "the job to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert (markers / "stopped").exists()

    done = _reload(committed_sessions, busy)
    assert done.state == DONE
    assert done.attempts == 1
    assert _effects(committed_sessions) == [f"effect:{busy}:proc-{proc.pid}"]
    # The job it had claimed but not started is back in the queue at once, try unspent.
    later = _reload(committed_sessions, waiting)
    assert (later.state, later.attempts, later.locked_by) == (PENDING, 0, None)


def test_threaded_worker_runs_a_batch_concurrently_and_each_job_once(
    backend: str, committed_db: str
) -> None:
    """With threads, jobs that wait on the network overlap; none runs twice."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time; workers there run one thread")
    engine = make_engine(committed_db, pool_size=12)
    try:
        factory = make_session_factory(engine)
        clock = SystemClock()
        with factory() as session:
            for i in range(40):
                jobs.enqueue(session, clock, "slow", {"i": i})
            session.commit()
        runs: list[int] = []
        active, peak = [0], [0]
        lock = threading.Lock()

        def slow(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                runs.append(int(payload["i"]))
            time.sleep(0.1)  # a provider answering slowly
            with lock:
                active[0] -= 1

        registry = jobs.JobRegistry()
        registry.register("slow", slow)
        worker = Worker(factory, registry, clock, threads=8, batch_size=40)
        started = time.monotonic()
        while worker.run_once():
            pass
        elapsed = time.monotonic() - started
        worker.close()
        assert sorted(runs) == list(range(40))
        assert peak[0] > 1
        assert elapsed < 40 * 0.1  # faster than one at a time
        with factory() as session:
            states = {j.state for j in session.scalars(select(jobs.Job))}
        assert states == {jobs.DONE}
    finally:
        engine.dispose()


def test_a_running_worker_keeps_its_threads_busy_past_a_slow_job(
    backend: str, committed_db: str
) -> None:
    """One job waiting on a slow provider does not hold up the jobs behind it: the worker
    claims more as threads free up instead of waiting for a whole batch to finish."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time; workers there run one thread")
    engine = make_engine(committed_db, pool_size=6)
    release = threading.Event()
    done: list[int] = []
    try:
        factory = make_session_factory(engine)
        clock = SystemClock()
        with factory() as session:
            jobs.enqueue(session, clock, "stuck", {}, run_at=clock.now() - dt.timedelta(minutes=1))
            for i in range(60):  # more than one batch (batch_size 8)
                jobs.enqueue(session, clock, "quick", {"i": i})
            session.commit()

        def stuck(ctx: jobs.JobContext, payload: dict[str, object]) -> None:
            release.wait(30)

        def quick(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
            done.append(int(payload["i"]))

        registry = jobs.JobRegistry()
        registry.register("stuck", stuck)
        registry.register("quick", quick)
        worker = Worker(factory, registry, clock, threads=4, batch_size=8, poll_seconds=0.05)
        runner = threading.Thread(target=worker.run_forever)
        runner.start()
        try:
            deadline = time.monotonic() + 20
            while len(done) < 60 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sorted(done) == list(range(60))  # all of them while "stuck" still waits
            assert not release.is_set()
        finally:
            release.set()
            worker.stop()
            runner.join(30)
        assert not runner.is_alive()
        with factory() as session:
            states = {j.state for j in session.scalars(select(jobs.Job))}
        assert states == {jobs.DONE}  # stopping finished the job at hand
    finally:
        engine.dispose()
