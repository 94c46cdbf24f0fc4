"""Audit checkpoints: a log cut short, or emptied, is found by the record kept outside it.

The forger here can write to the database (leaked credentials, an insider DBA, an injection)
and read this code, but holds no audit key. Cutting the newest events and moving the head back
leaves a valid keyed chain, and needs no key at all; only the checkpoint file, appended after
each verification, still knows how far the log reached.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.cli import main as lantern
from api.registry import job_registry
from core import audit, audit_watch
from core.audit import Actor, AuditEvent, AuditHead
from core.audit_checkpoints import FORMAT, CheckpointLog
from core.clock import Clock, FrozenClock, SystemClock
from core.crypto import KeyRing
from core.db import make_session_factory
from core.errors import ConfigurationError
from core.notices import StaffNotice
from core.runtime import Runtime
from core.worker import Worker
from tests.factories import make_staff

# The table itself, for plain SQL as someone with database access would write it (a mapped class
# types ``__table__`` as any FromClause, which ``update`` does not take).
EVENTS = AuditEvent.metadata.tables[AuditEvent.__tablename__]
REPO = Path(__file__).resolve().parents[2]


def _record(session: Session, clock: Clock, n: int, name: str = "e") -> None:
    for i in range(n):
        audit.record(session, clock, Actor("staff", uuid.uuid4()), f"{name}.{i}")
    session.commit()


def _cut(session: Session, keep: int) -> None:
    """The forgery: the events after ``keep`` deleted, the head moved back onto ``keep``."""
    kept = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == keep))
    session.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_seq=keep, last_hash=kept)
    )
    session.commit()


def _lines(log: CheckpointLog) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.path.read_text().splitlines()]


@pytest.fixture
def checkpoints(db_session: Session) -> CheckpointLog:
    return audit.session_checkpoints(db_session)


# --- the forgeries --------------------------------------------------------------------------------


def test_a_verified_head_is_checkpointed_and_a_cut_tail_is_found(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog
) -> None:
    _record(db_session, clock, 6)
    first = audit.verify(db_session)
    assert first.ok
    assert first.checkpoint is not None
    assert first.checkpoint.seq == 6
    [line] = _lines(checkpoints)
    assert (line["format"], line["seq"], line["key_id"]) == (FORMAT, 6, first.checkpoint.key_id)
    assert line["hash"] == db_session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == 6))

    _cut(db_session, 3)
    # What the database alone says: a sound chain of three events.
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 4, 3)
    assert result.against_checkpoint
    assert (result.reason or "").startswith(
        "newest events missing: the log ends at event 3, but checkpoint 1 ("
    )
    assert (result.reason or "").endswith(") saw event 6")
    assert len(_lines(checkpoints)) == 1  # a broken log is never checkpointed


def test_a_cut_tail_hidden_under_new_events_is_found_at_the_checkpoint(
    db_session: Session, clock: FrozenClock
) -> None:
    """After the cut, ordinary traffic appends again, past the checkpoint's sequence number:
    the head is no longer behind, but the event now at that number is another event."""
    _record(db_session, clock, 6)
    assert audit.verify(db_session).ok
    _cut(db_session, 3)
    _record(db_session, clock, 5, "later")
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq) == (False, 6), result
    assert (result.reason or "").startswith("event differs from checkpoint 1 (")


@pytest.mark.parametrize("how", ["events and head deleted", "head reset to the start"])
def test_an_emptied_log_is_found(db_session: Session, clock: FrozenClock, how: str) -> None:
    _record(db_session, clock, 3)
    assert audit.verify(db_session).ok
    db_session.execute(delete(AuditEvent))
    if how == "events and head deleted":
        db_session.execute(delete(AuditHead))
    else:
        db_session.execute(update(AuditHead).values(last_seq=0, last_hash=audit.GENESIS))
    db_session.commit()
    result = audit.verify(db_session)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 1, 0)
    assert (result.reason or "").startswith("the log is empty, but checkpoint 1 (")


def _rewrite_line(log: CheckpointLog, n: int, change: Callable[[dict[str, Any]], Any]) -> None:
    lines = _lines(log)
    change(lines[n - 1])
    log.path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        # The forger lowers the newest checkpoint to fit the cut log...
        (lambda c: c.update(seq=3), "has been altered (its HMAC does not match)"),
        # ...or points it at the event now at its number...
        (lambda c: c.update(hash="ab" * 32), "has been altered (its HMAC does not match)"),
        (lambda c: c.update(at="2020-01-01T00:00:00+00:00"), "has been altered"),
        # ...or recomputes its HMAC as a plain hash, or with the chain's own formula.
        (lambda c: c.update(mac="00" * 32), "has been altered (its HMAC does not match)"),
        (lambda c: c.update(key_id="a-forger"), "is keyed with audit key 'a-forger'"),
        (lambda c: c.update(note="fine"), "is not a checkpoint Lantern wrote"),
        (lambda c: c.update(seq="6"), "is not a checkpoint Lantern wrote"),
        (lambda c: c.update(seq=True), "is not a checkpoint Lantern wrote"),
        (lambda c: c.update(mac="\ud800"), "is not a checkpoint Lantern wrote"),
    ],
)
def test_an_edited_checkpoint_is_found(
    db_session: Session,
    clock: FrozenClock,
    checkpoints: CheckpointLog,
    edit: Callable[[dict[str, Any]], Any],
    reason: str,
) -> None:
    _record(db_session, clock, 6)
    assert audit.verify(db_session).ok
    _cut(db_session, 3)
    _rewrite_line(checkpoints, 1, edit)
    result = audit.verify(db_session)
    assert not result.ok
    assert result.first_broken_seq is None
    assert (result.reason or "").startswith("audit checkpoint 1 " + reason), result


def test_a_checkpoint_carrying_a_chain_link_hmac_is_found(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog, keyring: KeyRing
) -> None:
    """The checkpoint's key is derived from the audit key: a value made under the audit key
    itself (as every chain link is) never passes for a checkpoint's HMAC."""
    _record(db_session, clock, 2)
    assert audit.verify(db_session).ok
    keys = keyring.audit_chain_keys()
    line = _lines(checkpoints)[0]
    message = json.dumps(
        {k: line[k] for k in ("at", "format", "hash", "key_id", "seq")},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    assert keys.checkpoint_mac(line["key_id"], message) == line["mac"]
    _rewrite_line(checkpoints, 1, lambda c: c.update(mac=keys.mac(c["key_id"], message)))
    assert (audit.verify(db_session).reason or "").endswith("its HMAC does not match)")


@pytest.mark.parametrize(
    "damage", [b"{not json}\n", b"\n", b'{"seq": 9'], ids=["garbage", "blank", "cut short"]
)
def test_a_damaged_checkpoint_file_is_found(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog, damage: bytes
) -> None:
    _record(db_session, clock, 2)
    assert audit.verify(db_session).ok
    with checkpoints.path.open("ab") as fh:
        fh.write(damage)
    result = audit.verify(db_session)
    assert not result.ok
    assert (result.reason or "").startswith("audit checkpoint 2 "), result


def test_a_chain_break_is_named_before_a_damaged_checkpoint_file(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog
) -> None:
    _record(db_session, clock, 4)
    assert audit.verify(db_session).ok
    checkpoints.path.write_bytes(b"garbage\n")
    db_session.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(action="forged"))
    db_session.commit()
    assert audit.verify(db_session).first_broken_seq == 2


# --- an honest log keeps verifying ----------------------------------------------------------------


def test_appends_after_a_checkpoint_verify_and_are_checkpointed_in_turn(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog
) -> None:
    _record(db_session, clock, 3)
    assert audit.verify(db_session).ok
    for n in range(3):
        _record(db_session, clock, 2, f"round{n}")
        result = audit.verify(db_session)
        assert result.ok, result
        assert result.checked == 5 + 2 * n
    # Verifying an unchanged log adds nothing: the file grows with the log, not with the runs.
    assert audit.verify(db_session).ok
    assert [c["seq"] for c in _lines(checkpoints)] == [3, 5, 7, 9]


def test_an_empty_log_verifies_and_writes_no_checkpoint(
    db_session: Session, checkpoints: CheckpointLog
) -> None:
    result = audit.verify(db_session)
    assert (result.ok, result.checked, result.checkpoint) == (True, 0, None)
    assert not checkpoints.path.exists()


def test_events_not_yet_committed_are_never_checkpointed(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog
) -> None:
    """verify sees the events its own transaction recorded; a checkpoint naming them would
    outlive their rollback and make the honest log look cut."""
    _record(db_session, clock, 2)
    assert audit.verify(db_session).ok
    audit.record(db_session, clock, Actor.system(), "pending")
    uncommitted = audit.verify(db_session)
    assert (uncommitted.ok, uncommitted.checked) == (True, 3)
    assert [c["seq"] for c in _lines(checkpoints)] == [2]
    db_session.rollback()
    assert audit.verify(db_session).ok
    assert [c["seq"] for c in _lines(checkpoints)] == [2]


def test_a_released_savepoint_does_not_make_uncommitted_events_checkpointable(
    db_session: Session, clock: FrozenClock, checkpoints: CheckpointLog
) -> None:
    _record(db_session, clock, 2)
    assert audit.verify(db_session).ok
    audit.record(db_session, clock, Actor.system(), "pending")
    assert len(db_session.scalars(select(AuditEvent.seq)).all()) == 3  # written by the read
    with db_session.begin_nested():  # as enqueue(dedupe_key=...) does inside many jobs
        pass
    savepoint = db_session.begin_nested()
    savepoint.rollback()
    assert audit.verify(db_session).ok
    assert [c["seq"] for c in _lines(checkpoints)] == [2]
    db_session.rollback()
    assert audit.verify(db_session).ok


def test_checkpoints_under_a_rotated_audit_key_keep_verifying(
    committed_db: str, engine_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    old = KeyRing.generate("k1")
    new = old.with_new_audit_key("a-new")
    engine = engine_factory(committed_db)
    log = CheckpointLog(tmp_path / "checkpoints.jsonl", SystemClock())
    with make_session_factory(engine, info=audit.session_info(old.audit_chain_keys(), log))() as s:
        _record(s, SystemClock(), 2)
        assert audit.verify(s).ok
    with make_session_factory(engine, info=audit.session_info(new.audit_chain_keys(), log))() as s:
        _record(s, SystemClock(), 2)
        assert audit.verify(s).ok
        assert [c["key_id"] for c in _lines(log)] == [old.audit_keys[0][0], "a-new"]
        _record(s, SystemClock(), 1)
        assert audit.verify(s).ok


def test_a_session_without_a_checkpoint_file_cannot_verify(
    committed_db: str, engine_factory: Callable[[str], Engine], keyring: KeyRing
) -> None:
    factory = make_session_factory(
        engine_factory(committed_db), info=audit.session_info(keyring.audit_chain_keys())
    )
    with factory() as s, pytest.raises(ConfigurationError, match="checkpoint file"):
        audit.verify(s)


# --- several writers at once ----------------------------------------------------------------------


def test_verifiers_and_writers_at_once_report_no_false_break(
    committed_db: str,
    engine_factory: Callable[[str], Engine],
    keyring: KeyRing,
    audit_checkpoints: CheckpointLog,
) -> None:
    """The worker's job and `lantern audit verify` checkpoint while requests append events:
    a checkpoint written by one verifier while another walks must not look like a cut."""
    info = audit.session_info(keyring.audit_chain_keys(), audit_checkpoints)
    stop, started = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    results: list[audit.VerifyResult] = []

    def append() -> None:
        factory = make_session_factory(engine_factory(committed_db), info=info)
        try:
            while not stop.is_set():
                with factory() as s:
                    _record(s, SystemClock(), 1, "tick")
                started.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            started.set()

    def verify() -> None:
        # Each verifier opens the file on its own, as separate processes do.
        own = CheckpointLog(audit_checkpoints.path, SystemClock())
        factory = make_session_factory(
            engine_factory(committed_db),
            info=audit.session_info(keyring.audit_chain_keys(), own),
        )
        try:
            assert started.wait(30)
            for _ in range(12):
                with factory() as s:
                    results.append(audit.verify(s, batch_size=5))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=append)] + [
        threading.Thread(target=verify) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(120)
    stop.set()
    threads[0].join(30)
    assert errors == []
    assert len(results) == 36
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    written = _lines(audit_checkpoints)
    assert written
    assert max(c["seq"] for c in written) == max(r.checked for r in results)
    with make_session_factory(engine_factory(committed_db), info=info)() as s:
        assert audit.verify(s).ok


_APPEND = """
import sys
from pathlib import Path
from core.audit_checkpoints import CheckpointLog
from core.clock import SystemClock
from core.crypto import KeyRing
path, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keys = KeyRing.from_json(sys.stdin.read()).audit_chain_keys()
log = CheckpointLog(Path(path), SystemClock())
for seq in range(start, start + count):
    log.append(keys, seq, format(seq, "064x"))
"""


def test_processes_appending_at_once_leave_every_line_whole(
    tmp_path: Path, keyring: KeyRing
) -> None:
    """Workers on several hosts or processes and the CLI share one file: each line whole,
    none lost, and a reader meanwhile never sees half of one."""
    path = tmp_path / "shared" / "checkpoints.jsonl"
    per, procs = 60, 4
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _APPEND, str(path), str(1 + n * per), str(per)],
            cwd=REPO,
            stdin=subprocess.PIPE,
        )
        for n in range(procs)
    ]
    for w in writers:
        assert w.stdin is not None
        w.stdin.write(keyring.to_json().encode())
        w.stdin.close()
    keys = keyring.audit_chain_keys()
    reader = CheckpointLog(path, SystemClock())
    reads = 0
    while any(w.poll() is None for w in writers):
        reader.read(keys)  # raises CheckpointForged on half a line
        reads += 1
    assert [w.wait(60) for w in writers] == [0] * procs
    seqs = sorted(c.seq for c in reader.read(keys))
    assert seqs == list(range(1, per * procs + 1))
    assert reads > 0
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


# --- the periodic job -----------------------------------------------------------------------------


def _run_worker(runtime: Runtime, session_factory: sessionmaker[Session]) -> None:
    Worker(session_factory, job_registry(runtime), runtime.clock).run_once()


def test_the_worker_verifies_and_checkpoints_hourly(
    runtime: Runtime,
    db_session: Session,
    session_factory: sessionmaker[Session],
    checkpoints: CheckpointLog,
) -> None:
    registry = job_registry(runtime)
    assert registry.types[audit_watch.VERIFY_JOB].every_seconds == 3600
    _record(db_session, runtime.clock, 4)
    _run_worker(runtime, session_factory)
    assert [c["seq"] for c in _lines(checkpoints)] == [4]


def test_the_job_logs_a_break_and_tells_each_admin_once(
    runtime: Runtime,
    db_session: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admins = [make_staff(db_session, runtime, role="admin")[0] for _ in range(2)]
    advocate, _token = make_staff(db_session, runtime, role="advocate")
    _record(db_session, clock, 5)
    survivor_id = uuid.uuid4()
    audit.record(db_session, clock, Actor.system(), "plan.read", survivor_id=survivor_id)
    db_session.commit()
    assert audit.verify(db_session).ok
    _cut(db_session, 4)

    with caplog.at_level(logging.ERROR, logger="core.audit_watch"):
        _run_worker(runtime, session_factory)
    [entry] = [r for r in caplog.records if getattr(r, "event", None) == "audit_chain_broken"]
    assert entry.levelno == logging.ERROR
    assert vars(entry)["first_broken_seq"] == 5  # an ``extra`` field, unknown to LogRecord
    assert str(survivor_id) not in entry.getMessage() + json.dumps(entry.__dict__, default=str)

    def notices() -> list[StaffNotice]:
        db_session.expire_all()
        return list(
            db_session.scalars(
                select(StaffNotice).where(StaffNotice.kind == audit_watch.NOTICE_KIND)
            )
        )

    found = notices()
    assert sorted(n.recipient_id for n in found) == sorted(a.id for a in admins)
    assert advocate.id not in {n.recipient_id for n in found}
    assert {n.urgency for n in found} == {"urgent"}
    assert found[0].details["first_broken_seq"] == 5
    assert found[0].survivor_id is None

    # An hour later the log is still broken: an unread notice is not repeated...
    clock.advance(seconds=3601)
    _run_worker(runtime, session_factory)
    assert len(notices()) == 2
    # ...but an admin who has read it is told again.
    db_session.execute(
        update(StaffNotice)
        .where(StaffNotice.recipient_id == admins[0].id)
        .values(read_at=clock.now())
    )
    db_session.commit()
    clock.advance(seconds=3601)
    _run_worker(runtime, session_factory)
    assert len(notices()) == 3
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == 4


# --- `lantern audit verify` -----------------------------------------------------------------------


def test_cli_names_the_cut_and_the_checkpoint_file(
    cli_env: dict[str, str], committed_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with committed_sessions() as s:
        _record(s, SystemClock(), 5)
    runner = CliRunner()
    ok = runner.invoke(lantern, ["audit", "verify"], env=cli_env)
    assert ok.exit_code == 0, ok.output
    where = tmp_path / "instance" / "audit-checkpoints.jsonl"
    assert f"checkpoint at event 5 in {where}" in ok.stdout

    with committed_sessions() as s:
        _cut(s, 2)
    cut = runner.invoke(lantern, ["audit", "verify"], env=cli_env)
    assert cut.exit_code == 1
    assert "BROKEN at event 3: newest events missing: the log ends at event 2" in cut.stderr
    assert str(where) in cut.stderr

    where.write_text(where.read_text().replace('"seq":5', '"seq":2'))
    edited = runner.invoke(lantern, ["audit", "verify"], env=cli_env)
    assert edited.exit_code == 1
    assert "audit chain BROKEN: audit checkpoint 1 has been altered" in edited.stderr


def test_cli_cannot_write_its_checkpoint_says_so(
    cli_env: dict[str, str], committed_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with committed_sessions() as s:
        _record(s, SystemClock(), 1)
    env = {**cli_env, "LANTERN_AUDIT_CHECKPOINTS_PATH": str(blocker / "checkpoints.jsonl")}
    result = CliRunner().invoke(lantern, ["audit", "verify"], env=env)
    assert result.exit_code == 1
    assert "cannot use the audit checkpoint file" in result.output
    assert "Traceback" not in result.output
