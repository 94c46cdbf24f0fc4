"""core.audit: the hash chain holds, and every edit or deletion is found at its event."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from api.cli import main as lantern
from core import audit
from core.audit import Actor, AuditEvent, AuditHead
from core.audit_checkpoints import CheckpointLog
from core.clock import FrozenClock, SystemClock
from core.context import request_id_var
from core.crypto import KeyRing
from core.db import make_session_factory
from core.errors import ConfigurationError

# The tables themselves, for plain SQL as someone with database access would write it (a mapped
# class types ``__table__`` as any FromClause, which ``update`` and ``delete`` do not take).
EVENTS = AuditEvent.metadata.tables[AuditEvent.__tablename__]
HEAD = AuditHead.metadata.tables[AuditHead.__tablename__]


def keyed(bind: Any, ring: KeyRing, checkpoints: CheckpointLog) -> sessionmaker[Session]:
    """A session factory that chains events under ``ring``'s audit key and verifies against
    ``checkpoints``, as the runtime's does."""
    return make_session_factory(bind, info=audit.session_info(ring.audit_chain_keys(), checkpoints))


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
    assert db_session.get_one(AuditEvent, event.seq).request_id == "req-4f9a2c"
    assert db_session.get_one(AuditEvent, outside.seq).request_id is None
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
    "key_id": lambda e: "a-other",
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
    db_session.execute(delete(HEAD))
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, 6)
    db_session.execute(delete(EVENTS))
    # No events and no head: a consistent empty log is all that is left in the database, but
    # the checkpoint of the log verified before (by ``recorded``) still says it reached event 5.
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, 1), result
    assert (result.reason or "").startswith("the log is empty, but checkpoint 1 (")


def test_truncating_the_tail_is_found_by_the_head(
    db_session: Session, recorded: list[AuditEvent]
) -> None:
    # The head left as it was; moving it back too is found by the checkpoints
    # (test_audit_checkpoints.py).
    db_session.execute(delete(EVENTS).where(EVENTS.c.seq >= 4))
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, 4)


@pytest.mark.parametrize(("position", "expected"), [(2, 4), (4, 5)], ids=["middle", "last"])
def test_a_key_holder_rewriting_one_event_is_found_at_the_next_link(
    db_session: Session,
    recorded: list[AuditEvent],
    keyring: KeyRing,
    position: int,
    expected: int,
) -> None:
    # Even someone who holds the audit key and recomputes one event's link makes it only
    # self-consistent: the chain still breaks at the next event (whose prev_hash no longer
    # matches), or, for the newest event, at the head (which still holds the original link).
    target = recorded[position]
    forged = AuditEvent(**{c.key: getattr(target, c.key) for c in EVENTS.columns})
    forged.action = "nothing.happened"
    new_hash = audit.chain_hash(keyring.audit_chain_keys(), forged)
    db_session.execute(
        update(EVENTS)
        .where(EVENTS.c.seq == target.seq)
        .values(action="nothing.happened", hash=new_hash)
    )
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, expected), result


# --- a forger who can write to the database but does not hold the audit key ----------------


def _canonical(prev_hash: str, fields: dict[str, Any]) -> bytes:
    # The chain's format is public (this is open source): the forger knows it.
    return (
        prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    ).encode()


FORGERS: dict[str, Callable[[AuditEvent], tuple[str | None, str]]] = {
    # (key_id the forger writes, link the forger computes)
    "sha256-keeping-the-key-id": lambda e: (
        e.key_id,
        hashlib.sha256(_canonical(e.prev_hash, audit._fields(e))).hexdigest(),
    ),
    "sha256-as-if-unkeyed": lambda e: (
        None,
        hashlib.sha256(_canonical(e.prev_hash, audit._fields(_with(e, key_id=None)))).hexdigest(),
    ),
    "hmac-under-a-wrong-key": lambda e: (
        e.key_id,
        hmac.new(b"w" * 32, _canonical(e.prev_hash, audit._fields(e)), "sha256").hexdigest(),
    ),
    "hmac-under-the-forgers-own-key-id": lambda e: (
        "a-forged",
        hmac.new(
            b"w" * 32, _canonical(e.prev_hash, audit._fields(_with(e, key_id="a-forged"))), "sha256"
        ).hexdigest(),
    ),
}
FORGER_REASONS = {
    "sha256-keeping-the-key-id": "event altered",
    "sha256-as-if-unkeyed": audit.NOT_KEYED,
    "hmac-under-a-wrong-key": "event altered",
    "hmac-under-the-forgers-own-key-id": (
        "event keyed with audit key 'a-forged', which is not configured"
    ),
}


def _with(event: AuditEvent, **changes: Any) -> AuditEvent:
    """A detached copy of ``event`` with some columns changed (nothing is written)."""
    values = {c.key: getattr(event, c.key) for c in EVENTS.columns}
    return AuditEvent(**{**values, **changes})


def rechain(
    session: Session,
    from_seq: int,
    forger: Callable[[AuditEvent], tuple[str | None, str]],
    alter: dict[str, Any] | None = None,
    to_seq: int | None = None,
) -> None:
    """Rewrite event ``from_seq`` (``alter``: new details), then recompute every later link
    (up to ``to_seq``) and the head with ``forger``, in plain SQL, as someone with database
    access would."""
    session.flush()
    stmt = select(EVENTS).where(EVENTS.c.seq >= from_seq).order_by(EVENTS.c.seq)
    if to_seq is not None:
        stmt = stmt.where(EVENTS.c.seq <= to_seq)
    rows = session.execute(stmt).mappings()
    prev: str | None = None
    for row in rows.all():
        event = AuditEvent(**dict(row))
        if prev is not None:
            event.prev_hash = prev
        if event.seq == from_seq and alter is not None:
            event.details = alter
        event.key_id, event.hash = forger(event)
        session.execute(
            update(EVENTS)
            .where(EVENTS.c.seq == event.seq)
            .values(
                details=event.details,
                prev_hash=event.prev_hash,
                key_id=event.key_id,
                hash=event.hash,
            )
        )
        prev = event.hash
    if to_seq is None:
        session.execute(update(HEAD).values(last_hash=prev))


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
@pytest.mark.parametrize("forger", list(FORGERS))
def test_rewriting_an_event_and_recomputing_the_chain_is_found_at_that_event(
    db_session: Session, recorded: list[AuditEvent], forger: str, position: int
) -> None:
    target = recorded[position]
    rechain(db_session, target.seq, FORGERS[forger], alter={"section": 99, "fields": []})
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq, result.reason) == (
        False,
        target.seq,
        FORGER_REASONS[forger],
    ), result
    assert result.checked == position


def _legacy_log(session: Session, clock: FrozenClock, n: int) -> list[AuditEvent]:
    """A log written before the chain was keyed: plain SHA-256 links, no key ids."""
    events = _record_some(session, clock, n)
    rechain(session, 1, FORGERS["sha256-as-if-unkeyed"])
    session.commit()
    for event in events:
        session.refresh(event)
    assert all(e.key_id is None for e in events)
    return events


def test_the_first_keyed_event_chains_onto_an_older_unkeyed_log(
    db_session: Session, clock: FrozenClock, keyring: KeyRing
) -> None:
    legacy = _legacy_log(db_session, clock, 3)
    assert audit.verify(db_session, unkeyed_events=3) == audit.VerifyResult(True, 3, unkeyed=3)
    new = _record_some(db_session, clock, 2)
    assert new[0].prev_hash == legacy[-1].hash
    assert {e.key_id for e in new} == {keyring.audit_keys[0][0]}
    assert audit.unkeyed_prefix(db_session) == 3
    assert audit.verify(db_session, unkeyed_events=3) == audit.VerifyResult(True, 5, unkeyed=3)
    # Unless the operator says the log is older than its key, an unkeyed event is a break.
    assert audit.verify(db_session) == audit.VerifyResult(False, 0, 1, audit.NOT_KEYED)
    assert not audit.verify(db_session, unkeyed_events=2).ok


def test_rewriting_the_unkeyed_prefix_is_caught_by_the_first_keyed_event(
    db_session: Session, clock: FrozenClock
) -> None:
    # Plain links can be recomputed by anyone; the first keyed event's link covers the last
    # plain one, so the rewrite is found there (the event itself cannot be named).
    _legacy_log(db_session, clock, 3)
    _record_some(db_session, clock, 2)
    rechain(db_session, 2, FORGERS["sha256-as-if-unkeyed"], alter={"section": 99}, to_seq=3)
    result = audit.verify(db_session, unkeyed_events=3)
    assert (result.ok, result.first_broken_seq, result.reason) == (
        False,
        4,
        "link to previous event broken",
    ), result


@pytest.mark.parametrize("from_seq", [1, 4, 5])
def test_turning_keyed_events_into_unkeyed_ones_is_found(
    db_session: Session, clock: FrozenClock, from_seq: int
) -> None:
    # Rewritten as if they were from before the key (even from the very first event): no
    # unkeyed event may follow the unkeyed events the operator declared.
    _legacy_log(db_session, clock, 3)
    _record_some(db_session, clock, 2)
    rechain(db_session, from_seq, FORGERS["sha256-as-if-unkeyed"], alter={"section": 99})
    result = audit.verify(db_session, unkeyed_events=3)
    assert (result.ok, result.first_broken_seq, result.reason) == (
        False,
        max(from_seq, 4),
        audit.NOT_KEYED,
    ), result


def test_a_rotated_audit_key_keeps_verifying_the_events_it_keyed(
    committed_db: str, engine_factory: Callable[[str], Engine], audit_checkpoints: CheckpointLog
) -> None:
    old = KeyRing.generate("k1")
    new = old.with_new_audit_key("a-new")
    engine = engine_factory(committed_db)
    clock = FrozenClock()
    with keyed(engine, old, audit_checkpoints)() as s:
        _record_some(s, clock, 2)
    with keyed(engine, new, audit_checkpoints)() as s:
        _record_some(s, clock, 2)
        ids = s.scalars(select(AuditEvent.key_id).order_by(AuditEvent.seq)).all()
        assert ids == [old.audit_keys[0][0]] * 2 + ["a-new"] * 2
        assert audit.verify(s) == audit.VerifyResult(True, 4)
        # Without the old key, its events cannot be checked: that is a break, not a pass.
        only_new = KeyRing.generate("k1").with_new_audit_key("a-new")
        result = audit.verify(
            s, keys=replace(only_new, audit_keys=new.audit_keys[:1]).audit_chain_keys()
        )
        assert (result.ok, result.first_broken_seq) == (False, 1), result
        assert "not configured" in (result.reason or "")


def test_a_session_without_the_audit_key_cannot_write_events(
    committed_db: str, engine_factory: Callable[[str], Engine]
) -> None:
    factory = make_session_factory(engine_factory(committed_db))
    with factory() as s:
        audit.record(s, FrozenClock(), Actor.system(), "unkeyed.write")
        with pytest.raises(ConfigurationError, match="audit key"):
            s.commit()
        s.rollback()
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


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
    committed_db: str,
    engine_factory: Callable[[str], Engine],
    keyring: KeyRing,
    audit_checkpoints: CheckpointLog,
) -> None:
    per_thread, threads = 40, 2
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []
    # One set of audit keys for every thread, as one process's sessions share them.
    info = audit.session_info(keyring.audit_chain_keys())

    def append(name: str) -> None:
        factory = make_session_factory(engine_factory(committed_db), info=info)
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
    with keyed(engine_factory(committed_db), keyring, audit_checkpoints)() as s:
        result = audit.verify(s)
        assert result == audit.VerifyResult(True, per_thread * threads)
        actions = s.scalars(select(AuditEvent.action)).all()
    assert sorted(actions) == sorted(f"t{n}.{i}" for n in range(threads) for i in range(per_thread))


def test_verify_while_others_append_reports_no_false_break(
    committed_db: str,
    engine_factory: Callable[[str], Engine],
    keyring: KeyRing,
    audit_checkpoints: CheckpointLog,
) -> None:
    # Audit verification runs as a periodic job beside live traffic: events committed while
    # it walks the chain must not look like a broken chain.
    stop, started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def append() -> None:
        factory = keyed(engine_factory(committed_db), keyring, audit_checkpoints)
        try:
            while not stop.is_set():
                with factory() as s:
                    audit.record(s, SystemClock(), Actor.system(), "tick")
                    s.commit()
                started.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            started.set()

    writer = threading.Thread(target=append)
    writer.start()
    factory = keyed(engine_factory(committed_db), keyring, audit_checkpoints)
    try:
        # Walks begin once there is something to walk (a slow writer thread made the last
        # assertion below fail now and then).
        assert started.wait(30)
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


@pytest.mark.parametrize(
    "forger", ["sha256-keeping-the-key-id", "sha256-as-if-unkeyed", "hmac-under-a-wrong-key"]
)
def test_cli_audit_verify_finds_a_rewritten_and_recomputed_chain(
    cli_env: dict[str, str], committed_sessions: sessionmaker[Session], forger: str
) -> None:
    # The forgery of issue 12: one event's details rewritten, every later link and the head
    # recomputed. It passed `lantern audit verify` while the links were plain SHA-256.
    with committed_sessions() as s:
        _record_some(s, FrozenClock(), 5)
    with committed_sessions() as s:
        rechain(s, 2, FORGERS[forger], alter={"section": 99})
        s.commit()
    result = CliRunner().invoke(lantern, ["audit", "verify"], env=cli_env)
    assert result.exit_code == 1, result.output
    assert f"BROKEN at event 2: {FORGER_REASONS[forger]}" in result.stderr
    assert "LANTERN_AUDIT_UNKEYED_EVENTS" not in result.stderr


def test_cli_audit_verify_on_a_database_older_than_its_audit_key(
    cli_env: dict[str, str], committed_sessions: sessionmaker[Session]
) -> None:
    clock = FrozenClock()
    with committed_sessions() as s:
        _legacy_log(s, clock, 3)
        _record_some(s, clock, 2)
    runner = CliRunner()
    refused = runner.invoke(lantern, ["audit", "verify"], env=cli_env)
    assert refused.exit_code == 1
    assert "BROKEN at event 1: event not keyed" in refused.stderr
    assert "LANTERN_AUDIT_UNKEYED_EVENTS=3" in refused.stderr
    declared = {**cli_env, "LANTERN_AUDIT_UNKEYED_EVENTS": "3"}
    ok = runner.invoke(lantern, ["audit", "verify"], env=declared)
    assert ok.exit_code == 0, ok.output
    assert (
        "intact: 5 events, 3 from before the chain was keyed (protected by the first keyed "
        "event)" in ok.stdout
    )
    # The declaration covers those three only: a keyed event rewritten as unkeyed is a break.
    with committed_sessions() as s:
        rechain(s, 4, FORGERS["sha256-as-if-unkeyed"], alter={"section": 99})
        s.commit()
    broken = runner.invoke(lantern, ["audit", "verify"], env=declared)
    assert broken.exit_code == 1
    assert "BROKEN at event 4: event not keyed" in broken.stderr


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
    backend: str,
    committed_db: str,
    engine_factory: Callable[[str], Engine],
    keyring: KeyRing,
    audit_checkpoints: CheckpointLog,
) -> None:
    # The head is locked only as a transaction commits: a transaction that recorded an event
    # and then waits (for a row lock, for Twilio) must not stall every other audited write.
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time whatever the audit log does")
    factory = keyed(engine_factory(committed_db), keyring, audit_checkpoints)
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
