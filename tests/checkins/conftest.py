from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from api.registry import job_registry
from api.wiring import wire
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.clock import Clock, FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.jobs import JobContext
from core.runtime import Runtime, build_runtime
from core.worker import Worker
from messaging.checkins.deps import SmsUnavailable
from messaging.phone import set_phone
from tests.conftest import make_settings
from tests.factories import make_staff, make_survivor

SURVIVOR_PHONE = "+447911123999"


@dataclass
class FakeSms:
    """Records what check-ins queue; ``unavailable`` makes survivor texts impossible."""

    to_survivors: list[tuple[uuid.UUID, str, uuid.UUID]] = field(default_factory=list)
    to_staff_calls: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    dispatched: list[uuid.UUID] = field(default_factory=list)
    unavailable: str | None = None

    def to_survivor(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        body: str,
        *,
        reference_id: uuid.UUID,
    ) -> uuid.UUID:
        if self.unavailable:
            raise SmsUnavailable(self.unavailable)
        self.to_survivors.append((survivor_id, body, reference_id))
        return uuid.uuid4()

    def dispatch(self, ctx: JobContext, outbound_ids: list[uuid.UUID]) -> None:
        ctx.checkpoint()  # as the real one does, so that tests see the same commits
        self.dispatched.extend(outbound_ids)

    def to_staff(
        self,
        session: Session,
        clock: Clock,
        staff_id: uuid.UUID,
        body: str,
        *,
        reference_id: uuid.UUID,
    ) -> uuid.UUID | None:
        self.to_staff_calls.append((staff_id, body))
        return uuid.uuid4()


@dataclass
class FakeWelfare:
    calls: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None]] = field(default_factory=list)

    def __call__(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        escalation_id: uuid.UUID,
        agency_id: uuid.UUID | None,
    ) -> str:
        self.calls.append((survivor_id, escalation_id, agency_id))
        return "alerted"


@dataclass
class World:
    runtime: Runtime
    clock: FrozenClock
    sms: FakeSms
    welfare: FakeWelfare
    advocate: StaffMember
    advocate_token: str
    survivor: Survivor
    survivor_token: str

    def run_jobs(self, rounds: int = 10) -> int:
        worker = Worker(
            self.runtime.session_factory,
            job_registry(self.runtime),
            self.clock,
            lease_seconds=60,
            batch_size=100,
        )
        total = 0
        for _ in range(rounds):
            ran = worker.run_once()
            total += ran
            if ran == 0:
                break
        return total

    def travel(self, **delta: float) -> None:
        self.clock.advance(**delta)


@pytest.fixture
def world(runtime: Runtime, db_session: Session, clock: FrozenClock) -> World:
    # A Monday noon UTC, away from any DST change unless a test moves it.
    clock.set(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    sms, welfare = FakeSms(), FakeWelfare()
    # Before anything else wires this runtime (take ``world`` before ``client`` or ``app``).
    wire(runtime, checkin_sms=sms, welfare_alerts=welfare)
    advocate, advocate_token = make_staff(db_session, runtime, role="advocate")
    survivor, survivor_token = make_survivor(db_session, runtime, advocate=advocate)
    set_phone(db_session, runtime.vault, survivor.id, SURVIVOR_PHONE)  # SMS check-ins need one
    db_session.commit()
    return World(runtime, clock, sms, welfare, advocate, advocate_token, survivor, survivor_token)


@pytest.fixture
def committed_runtime(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> Iterator[Runtime]:
    """A runtime on a database of the test's own, where commits are real (parallel tests)."""
    engine = make_engine(committed_db)
    try:
        yield build_runtime(
            make_settings(tmp_path, committed_db, keyring),
            clock=FrozenClock(),
            engine=engine,
            keyring=keyring,
            hasher=fast_hasher,
        )
    finally:
        engine.dispose()
