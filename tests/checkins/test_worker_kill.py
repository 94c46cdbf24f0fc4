"""A worker SIGKILLed in the middle of 1,000 due check-ins loses nothing and doubles nothing.

Real `lantern worker` processes against a PostgreSQL database of the test's own, real clock.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core.audit import Actor
from core.clock import FrozenClock, SystemClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine, make_session_factory
from core.keyfiles import environment_values
from core.runtime import build_runtime
from core.settings import Settings
from messaging.checkins import arrangements, states
from messaging.checkins.models import CheckinOccurrence, Escalation
from messaging.checkins.occurrences import generate_for
from messaging.checkins.timers import SEND_BATCH
from messaging.models import OutboundSms
from messaging.phone import set_phone
from tests.factories import make_survivor_account

SURVIVORS, PER_SURVIVOR = 100, 10  # 1,000 check-ins
LANTERN = str(Path(sys.executable).with_name("lantern"))


def _env(url: str, ring: KeyRing, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LANTERN_ENV="test",
        LANTERN_DATABASE_URL=url,
        **{f"LANTERN_{k.upper()}": v for k, v in environment_values(ring).items()},
        LANTERN_INSTANCE_PATH=str(tmp),
        LANTERN_JOB_LEASE_SECONDS="3",
        LANTERN_JOB_POLL_SECONDS="0.2",
        LANTERN_JOB_BATCH_SIZE="25",
        LANTERN_LOG_LEVEL="WARNING",
        LANTERN_SMS_BACKEND="console",
    )
    return env


def _counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    sent = session.scalar(
        select(func.count())
        .select_from(CheckinOccurrence)
        .where(CheckinOccurrence.state != states.SCHEDULED)
    )
    outbound = session.scalar(select(func.count()).select_from(OutboundSms))
    return int(sent or 0), int(outbound or 0)


def test_sigkilled_worker_mid_batch_loses_and_doubles_nothing(
    backend: str,
    committed_db: str,
    keyring: KeyRing,
    tmp_path: Path,
    settings: Settings,
    fast_hasher: SecretHasher,
) -> None:
    if backend != "postgresql":
        pytest.skip("the kill drill runs on PostgreSQL (row locks, several worker processes)")
    engine = make_engine(committed_db)
    try:
        _drill(engine, committed_db, keyring, tmp_path, settings, fast_hasher)
    finally:
        engine.dispose()


def _drill(
    engine: Engine,
    url: str,
    keyring: KeyRing,
    tmp_path: Path,
    settings: Settings,
    fast_hasher: SecretHasher,
) -> None:
    factory = make_session_factory(engine)
    clock = SystemClock()
    # The check-ins are set up "an hour ago" and fell due a moment ago: the workers (real
    # clock) find all 1,000 due at once, without the test waiting out its own setup.
    setup_clock = FrozenClock(clock.now() - dt.timedelta(hours=1))
    rt = build_runtime(
        settings,
        clock=setup_clock,
        engine=engine,
        session_factory=factory,
        keyring=keyring,
        hasher=fast_hasher,
    )
    vault = rt.vault
    due = clock.now() - dt.timedelta(seconds=10)
    with factory() as session:
        for i in range(SURVIVORS):
            survivor, _ = make_survivor_account(session, rt)
            set_phone(session, vault, survivor.id, f"+4479111{i:05d}")
            actor = Actor("survivor", survivor.id)
            for j in range(PER_SURVIVOR):
                schedule = arrangements.create_schedule(
                    session,
                    setup_clock,
                    vault,
                    actor,
                    survivor.id,
                    arrangements.NewSchedule(
                        kind="one_off", channel="sms", due_at=due + dt.timedelta(milliseconds=j)
                    ),
                )
                generate_for(session, setup_clock, vault, schedule)
        session.commit()
    env = _env(url, keyring, tmp_path)
    first = subprocess.Popen(
        [LANTERN, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with factory() as session:
            deadline = time.monotonic() + 60
            while _counts(session)[0] < 150 and time.monotonic() < deadline:
                time.sleep(0.05)
            sent_before_kill = _counts(session)[0]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert 0 < sent_before_kill < SURVIVORS * PER_SURVIVOR, "the kill did not land mid-batch"
    # A second worker finishes the rest once the dead worker's leases run out.
    second = subprocess.run(
        [LANTERN, "worker", "--max-idle-loops", "25"],
        env=env,
        timeout=240,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    assert second.returncode == 0
    with factory() as session:
        session.expire_all()
        occurrences = session.scalars(select(CheckinOccurrence)).all()
        assert len(occurrences) == SURVIVORS * PER_SURVIVOR
        assert {o.state for o in occurrences} <= {states.SENT, states.ESCALATED}, (
            "a check-in was lost"
        )
        per_occurrence = session.execute(
            select(OutboundSms.reference_id, func.count()).group_by(OutboundSms.reference_id)
        ).all()
        assert len(per_occurrence) == SURVIVORS * PER_SURVIVOR
        assert all(n == 1 for _, n in per_occurrence), "a check-in was texted twice"
        doubled = session.execute(
            select(Escalation.occurrence_id, func.count())
            .group_by(Escalation.occurrence_id)
            .having(func.count() > 1)
        ).all()
        assert doubled == [], "a check-in was escalated twice"
        # A text the killed worker had handed to the gateway but not yet recorded may have
        # gone: it is never sent again (at most once), and its check-in stays sent, so a reply
        # still answers it and silence still escalates. Nothing else is without its SID.
        unknown = session.execute(
            select(OutboundSms.status, OutboundSms.failure_reason, func.count())
            .where(OutboundSms.provider_sid.is_(None))
            .group_by(OutboundSms.status, OutboundSms.failure_reason)
        ).all()
        jobs_by_state = session.execute(
            text("SELECT kind, state, last_error, count(*) FROM jobs GROUP BY 1, 2, 3")
        ).all()
        assert all((st, why) == ("failed", "outcome_unknown") for st, why, _ in unknown), (
            f"an SMS was lost: {unknown} {jobs_by_state}"
        )
        in_flight_at_most = Settings().worker_threads * SEND_BATCH
        assert sum(n for _, _, n in unknown) <= in_flight_at_most
        real = select(func.count()).select_from(Survivor).where(Survivor.decoy_of.is_(None))
        assert session.scalar(real) == SURVIVORS  # (each has a decoy account too)
