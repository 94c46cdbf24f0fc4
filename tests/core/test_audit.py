"""core.audit: the hash chain holds, and every edit or deletion is found at its event."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from api.cli import main as lantern
from core import audit, crypto
from core.audit import Actor, AuditEvent, AuditHead
from core.clock import FrozenClock, SystemClock
from core.context import request_id_var
from core.crypto import KeyRing
from core.db import make_session_factory

EVENTS = audit.AuditEvent.__table__


def _record_some(session: Session, clock: FrozenClock, n: int = 5) -> list[AuditEvent]:
    events = []
    for i in range(n):
        clock.advance(seconds=1)
        events.append(
            audit.record(
                session,
                clock,
                Actor("staff", uuid.uuid4()),
                "plan.read",
                subject_kind="safety_plan",
                subject_id=uuid.uuid4(),
                survivor_id=uuid.uuid4(),
                details={"section": i, "fields": ["risks", "contacts"]},
            )
        )
    session.commit()  # events are chained and written as their transaction commits
    return events


@pytest.fixture
def recorded(db_session: Session, clock: FrozenClock) -> list[AuditEvent]:
    events = _record_some(db_session, clock)
    assert audit.verify(db_session).ok
    return events


def test_record_builds_one_chain(db_session: Session, clock: FrozenClock) -> None:
    events = _record_some(db_session, clock, 4)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == audit.GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert len({e.hash for e in events}) == 4
    result = audit.verify(db_session)
    assert result == audit.VerifyResult(True, 4)
    head = db_session.get(AuditHead, 1)
    assert head is not None
    assert (head.last_seq, head.last_hash) == (4, events[-1].hash)


def test_request_id_from_context_is_recorded(db_session: Session, clock: FrozenClock) -> None:
    token = request_id_var.set("req-4f9a2c")
    try:
        event = audit.record(db_session, clock, Actor.system(), "job.ran")
    finally:
        request_id_var.reset(token)
    outside = audit.record(db_session, clock, Actor.system(), "job.ran")
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(AuditEvent, event.seq).request_id == "req-4f9a2c"  # type: ignore[union-attr]
    assert db_session.get(AuditEvent, outside.seq).request_id is None  # type: ignore[union-attr]
    assert audit.verify(db_session).ok


def test_chain_survives_a_clock_in_another_zone_and_non_json_details(
    db_session: Session,
) -> None:
    # The hash must be of what is stored: UTC times, plain-JSON details.
    clock = FrozenClock(
        dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    audit.record(db_session, clock, Actor.system(), "a", details={"pair": (1, 2), "n": 1.5})
    audit.record(db_session, clock, Actor.system(), "b", details={"nested": {"z": [1], "a": None}})
    assert audit.verify(db_session).ok
    with pytest.raises(ValueError, match="JSON"):
        audit.record(db_session, clock, Actor.system(), "c", details={"x": float("nan")})
    with pytest.raises(TypeError):
        audit.record(db_session, clock, Actor.system(), "c", details={"x": object()})


# Each field of an event, with a tampered value of the right type.
TAMPERS: dict[str, Callable[[AuditEvent], Any]] = {
    "id": lambda e: uuid.uuid4(),
    "occurred_at": lambda e: e.occurred_at + dt.timedelta(microseconds=1),
    "actor_kind": lambda e: "survivor",
    "actor_id": lambda e: uuid.uuid4(),
    "action": lambda e: "plan.update",
    "subject_kind": lambda e: "journal_entry",
    "subject_id": lambda e: uuid.uuid4(),
    "survivor_id": lambda e: uuid.uuid4(),
    "request_id": lambda e: "forged",
    "details": lambda e: {**e.details, "section": 99},
    "prev_hash": lambda e: "f" * 64,
    "hash": lambda e: "e" * 64,
    "seq": lambda e: e.seq + 1000,
}


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
@pytest.mark.parametrize("field", list(TAMPERS))
def test_editing_any_field_of_any_event_is_found_at_that_event(
    db_session: Session, recorded: list[AuditEvent], field: str, position: int
) -> None:
    target = recorded[position]
    value = TAMPERS[field](target)
    # A plain SQL UPDATE, as someone with database access would do it.
    db_session.execute(update(EVENTS).where(EVENTS.c.seq == target.seq).values({field: value}))
    result = audit.verify(db_session)
    assert not result.ok
    assert result.first_broken_seq == target.seq, result
    assert result.checked == position


def test_editing_with_literal_sql_is_found(db_session: Session, recorded: list[AuditEvent]) -> None:
    db_session.execute(text("UPDATE audit_events SET action = 'nothing.happened' WHERE seq = 3"))
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 3, "event altered")


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
def test_deleting_any_event_is_found_at_that_point(
    db_session: Session, recorded: list[AuditEvent], position: int
) -> None:
    target = recorded[position]
    db_session.execute(delete(EVENTS).where(EVENTS.c.seq == target.seq))
    result = audit.verify(db_session)
    assert not result.ok
    assert result.first_broken_seq == target.seq, result


def test_deleting_every_event_or_the_head_is_found(
    db_session: Session, recorded: list[AuditEvent]
) -> None:
    db_session.execute(delete(AuditHead.__table__))
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, 6)
    db_session.execute(delete(EVENTS))
    # No events and no head: an empty log is all that is left, and it is consistent.
    assert audit.verify(db_session).ok


def test_truncating_the_tail_and_rewinding_the_head_needs_the_head_too(
    db_session: Session, recorded: list[AuditEvent]
) -> None:
    db_session.execute(delete(EVENTS).where(EVENTS.c.seq >= 4))
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, 4)


@pytest.mark.parametrize(("position", "expected"), [(2, 4), (4, 5)], ids=["middle", "last"])
def test_forging_an_event_with_a_recomputed_hash_is_found_at_the_next_link(
    db_session: Session, recorded: list[AuditEvent], position: int, expected: int
) -> None:
    # Someone who edits an event and recomputes its hash makes it self-consistent; the chain
    # still breaks at the next event (whose prev_hash no longer matches), or, for the newest
    # event, at the head (which still holds the original hash).
    target = recorded[position]
    forged = {**audit._fields(target), "action": "nothing.happened"}
    new_hash = audit._event_hash(target.prev_hash, forged)
    db_session.execute(
        update(EVENTS)
        .where(EVENTS.c.seq == target.seq)
        .values(action="nothing.happened", hash=new_hash)
    )
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, expected), result


def test_a_long_lived_session_appends_after_others(
    committed_sessions: sessionmaker[Session],
) -> None:
    # Sessions keep objects across commits; a session that appended before must not reuse its
    # stale copy of the head once another session has appended.
    clock = FrozenClock()
    first, second = committed_sessions(), committed_sessions()
    try:
        audit.record(first, clock, Actor.system(), "one")
        first.commit()
        # Something in the first session holds the head (a status page, an earlier verify),
        # so the identity map keeps the object, with last_seq 1, across the commit.
        head_seen_earlier = first.get(AuditHead, 1)
        first.commit()  # ends the read (SQLite: releases the write lock) and keeps the object
        audit.record(second, clock, Actor.system(), "two")
        second.commit()
        third = audit.record(first, clock, Actor.system(), "three")
        first.commit()
        assert third.seq == 3
        assert head_seen_earlier is not None
        assert head_seen_earlier.last_seq == 3
        # verify in the session that holds stale copies still sees what the database holds.
        second.execute(update(EVENTS).where(EVENTS.c.seq == 1).values(action="forged"))
        second.commit()
        assert audit.verify(first).first_broken_seq == 1
    finally:
        first.close()
        second.close()


def test_concurrent_appends_keep_one_unbroken_chain(
    committed_db: str, engine_factory: Callable[[str], Engine]
) -> None:
    per_thread, threads = 40, 2
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(name: str) -> None:
        factory = make_session_factory(engine_factory(committed_db))
        clock = SystemClock()
        try:
            barrier.wait(10)
            for i in range(per_thread):
                with factory() as s:
                    audit.record(s, clock, Actor.system(), f"{name}.{i}")
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(f"t{n}",)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    with make_session_factory(engine_factory(committed_db))() as s:
        result = audit.verify(s)
        assert result == audit.VerifyResult(True, per_thread * threads)
        actions = s.scalars(select(AuditEvent.action)).all()
    assert sorted(actions) == sorted(f"t{n}.{i}" for n in range(threads) for i in range(per_thread))


def test_verify_while_others_append_reports_no_false_break(
    committed_db: str, engine_factory: Callable[[str], Engine]
) -> None:
    # Audit verification runs as a periodic job beside live traffic: events committed while
    # it walks the chain must not look like a broken chain.
    stop = threading.Event()
    errors: list[BaseException] = []

    def append() -> None:
        factory = make_session_factory(engine_factory(committed_db))
        try:
            while not stop.is_set():
                with factory() as s:
                    audit.record(s, SystemClock(), Actor.system(), "tick")
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    writer = threading.Thread(target=append)
    writer.start()
    factory = make_session_factory(engine_factory(committed_db))
    try:
        results = []
        for _ in range(30):
            with factory() as s:
                results.append(audit.verify(s, batch_size=7))
    finally:
        stop.set()
        writer.join(30)
    assert errors == []
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert results[-1].checked > 0


# --- `lantern audit verify` -----------------------------------------------------------------


@pytest.fixture
def cli_env(
    committed_db: str, tmp_path: Path, restore_logging: None, cli_engines: list[Engine]
) -> Iterator[dict[str, str]]:
    ring = KeyRing.generate("k1")
    return {
        "LANTERN_ENV": "test",
        "LANTERN_DATABASE_URL": committed_db,
        "LANTERN_INSTANCE_PATH": str(tmp_path / "instance"),
        "LANTERN_KEKS": f"k1:{crypto.b64encode(ring.kek('k1'))}",
        "LANTERN_INDEX_KEY": crypto.b64encode(ring.index_key),
        "LANTERN_PUBLIC_BASE_URL": "https://lantern.test",
        "LANTERN_ARGON2_TIME_COST": "1",
        "LANTERN_ARGON2_MEMORY_KIB": "8",
    }


def test_cli_audit_verify(
    cli_env: dict[str, str], committed_sessions: sessionmaker[Session]
) -> None:
    with committed_sessions() as s:
        _record_some(s, FrozenClock(), 3)
        s.commit()
    runner = CliRunner()
    ok = runner.invoke(lantern, ["audit", "verify"], env=cli_env)
    assert ok.exit_code == 0, ok.output
    assert "intact: 3 events" in ok.stdout

    with committed_sessions() as s:
        s.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(action="forged"))
        s.commit()
    broken = runner.invoke(lantern, ["audit", "verify"], env=cli_env)
    assert broken.exit_code == 1
    assert "BROKEN at event 2" in broken.stderr


def test_events_are_written_only_when_their_transaction_commits(
    db_session: Session, clock: FrozenClock
) -> None:
    kept = audit.record(db_session, clock, Actor.system(), "kept")
    savepoint = db_session.begin_nested()
    audit.record(db_session, clock, Actor.system(), "in.rolled.back.savepoint")
    savepoint.rollback()
    with db_session.begin_nested():
        audit.record(db_session, clock, Actor.system(), "in.released.savepoint")
    # Releasing a savepoint is not the commit: nothing is chained (nor the head locked) yet.
    assert kept.seq is None
    db_session.commit()
    assert [e.action for e in db_session.scalars(select(AuditEvent).order_by(AuditEvent.seq))] == [
        "kept",
        "in.released.savepoint",
    ]
    audit.record(db_session, clock, Actor.system(), "rolled.back")
    db_session.rollback()
    db_session.commit()
    assert db_session.scalar(select(AuditHead.last_seq)) == 2
    assert audit.verify(db_session) == audit.VerifyResult(True, 2)


def test_a_transaction_reads_its_own_events(db_session: Session, clock: FrozenClock) -> None:
    event = audit.record(db_session, clock, Actor.system(), "job.ran")
    assert db_session.scalars(select(AuditEvent.action)).all() == ["job.ran"]
    assert event.seq == 1


def test_an_uncommitted_audited_transaction_does_not_hold_up_other_writers(
    backend: str, committed_db: str, engine_factory: Callable[[str], Engine]
) -> None:
    # The head is locked only as a transaction commits: a transaction that recorded an event
    # and then waits (for a row lock, for Twilio) must not stall every other audited write.
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time whatever the audit log does")
    factory = make_session_factory(engine_factory(committed_db))
    clock = SystemClock()
    with factory() as setup:
        audit.record(setup, clock, Actor.system(), "first")
        setup.commit()
    with factory() as slow, factory() as quick:
        audit.record(slow, clock, Actor.system(), "slow")
        slow.execute(select(AuditHead.last_seq))  # its transaction is open and has read
        quick.execute(text("SET LOCAL lock_timeout = '2s'"))
        audit.record(quick, clock, Actor.system(), "quick")
        quick.commit()  # would time out if the slow transaction held the head
        slow.commit()
    with factory() as s:
        assert s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all() == [
            "first",
            "quick",
            "slow",
        ]
        assert audit.verify(s) == audit.VerifyResult(True, 3)
