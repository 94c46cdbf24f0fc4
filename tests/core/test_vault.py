"""core.vault on a real database: rotation, rollbacks, races and crypto-shredding."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Column, Engine, LargeBinary, MetaData, Table, Uuid, insert, select
from sqlalchemy.orm import Session, sessionmaker

from core import crypto
from core.clock import FrozenClock
from core.crypto import Binding, KeyRing
from core.db import make_session_factory
from core.errors import CryptoError
from core.vault import DataKey, Vault


def _binding(owner: uuid.UUID, row: uuid.UUID | None = None) -> Binding:
    return Binding("journal_entries", "body", row or uuid.UUID(int=7), owner)


def test_rotate_rewraps_every_data_key_and_everything_still_opens(
    db_session: Session, session_factory: sessionmaker[Session]
) -> None:
    clock = FrozenClock()
    ring1 = KeyRing.generate("old")
    before = Vault(ring1, clock)
    owners = [uuid.uuid4() for _ in range(7)]
    sealed = {o: before.seal(db_session, _binding(o), f"plan of {o}") for o in owners}
    db_session.flush()
    assert {row.kek_id for row in db_session.scalars(select(DataKey))} == {"old"}

    ring2 = ring1.with_new_primary("new")
    after = Vault(ring2, clock)
    clock.advance(days=1)
    # A small batch size makes rotate walk several batches.
    assert after.rotate(db_session, batch_size=3) == len(owners)
    rows = db_session.scalars(select(DataKey)).all()
    assert len(rows) == len(owners)
    assert {row.kek_id for row in rows} == {ring2.primary_id}
    assert all(row.rotated_at == clock.now() for row in rows)
    assert after.rotate(db_session) == 0  # nothing left under the old KEK
    assert after.kek_usage(db_session) == {"new": len(owners)}
    assert after.retirable_kek_ids(db_session) == ["old"]

    new_owner = uuid.uuid4()
    new_text = after.seal(db_session, _binding(new_owner), "written after rotation")
    db_session.flush()

    # A new session (no cached keys) and a ring WITHOUT the old KEK: the only way anything
    # opens now is through the re-wrapped data keys.
    retired = Vault(ring2.without("old"), clock)
    with session_factory() as fresh:
        for owner, ciphertext in sealed.items():
            assert retired.open_text(fresh, _binding(owner), ciphertext) == f"plan of {owner}"
        assert retired.open_text(fresh, _binding(new_owner), new_text) == "written after rotation"
    # ... while the old ring alone can no longer unwrap them.
    with session_factory() as fresh, pytest.raises(CryptoError):
        Vault(ring1, clock).open(fresh, _binding(owners[0]), sealed[owners[0]])


def test_rotate_refuses_when_a_kek_is_missing(db_session: Session) -> None:
    clock = FrozenClock()
    ring1 = KeyRing.generate("old")
    Vault(ring1, clock).ensure_key(db_session, uuid.uuid4())
    # A ring that lost the old KEK cannot re-wrap: it fails loudly instead of skipping keys.
    stranger = KeyRing.generate("other")
    with pytest.raises(CryptoError):
        Vault(stranger, clock).rotate(db_session)


def test_a_key_created_in_a_rolled_back_savepoint_is_not_used_afterwards(
    db_session: Session, session_factory: sessionmaker[Session], keyring: KeyRing
) -> None:
    # The first seal creates the owner's key inside a savepoint that rolls back: the key never
    # reached the database. A later seal in the same session must not reuse it, or it would
    # write data that nothing can ever open.
    vault, owner = Vault(keyring, FrozenClock()), uuid.uuid4()
    nested = db_session.begin_nested()
    vault.seal(db_session, _binding(owner), "lost with the savepoint")
    nested.rollback()
    assert db_session.scalars(select(DataKey).where(DataKey.owner_id == owner)).first() is None

    ciphertext = vault.seal(db_session, _binding(owner), "kept")
    db_session.flush()
    with session_factory() as other:
        assert Vault(keyring, FrozenClock()).open_text(other, _binding(owner), ciphertext) == "kept"


def test_concurrent_first_seals_share_one_data_key(
    committed_db: str, engine_factory: Callable[[str], Engine], keyring: KeyRing
) -> None:
    # Two transactions seal a new owner's first secret at the same time. On PostgreSQL the
    # second insert of the key waits on the unique index and then fails; the vault must fall
    # back to the winner's key instead of failing (or writing under a key that is not stored).
    owner = uuid.uuid4()
    vault = Vault(keyring, FrozenClock())
    first = make_session_factory(engine_factory(committed_db))()
    second_factory = make_session_factory(engine_factory(committed_db))
    results: dict[str, bytes] = {}
    errors: list[BaseException] = []

    first_text = vault.seal(first, _binding(owner, uuid.UUID(int=1)), "first")

    def second() -> None:
        try:
            with second_factory() as s:
                results["second"] = vault.seal(s, _binding(owner, uuid.UUID(int=2)), "second")
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # it is now blocked on our uncommitted key (or the SQLite write lock)
    first.commit()
    first.close()
    thread.join(10)
    assert not thread.is_alive()
    assert errors == []
    with second_factory() as check:
        assert len(check.scalars(select(DataKey).where(DataKey.owner_id == owner)).all()) == 1
        fresh = Vault(keyring, FrozenClock())
        assert fresh.open_text(check, _binding(owner, uuid.UUID(int=1)), first_text) == "first"
        second_text = results["second"]
        assert fresh.open_text(check, _binding(owner, uuid.UUID(int=2)), second_text) == "second"


def test_erase_makes_the_owner_noise_in_the_live_database(
    db_session: Session, session_factory: sessionmaker[Session], keyring: KeyRing
) -> None:
    vault = Vault(keyring, FrozenClock())
    alice, bob = uuid.uuid4(), uuid.uuid4()
    rows = [uuid.uuid4() for _ in range(3)]
    texts = [vault.seal(db_session, _binding(alice, row), f"a{i}") for i, row in enumerate(rows)]
    bobs = vault.seal(db_session, _binding(bob), "b")
    assert vault.open_text(db_session, _binding(alice, rows[0]), texts[0]) == "a0"

    assert vault.erase(db_session, alice) is True
    assert vault.erase(db_session, alice) is False  # already gone
    # Same session (its cached key is dropped) and a new one: nothing of Alice opens.
    for session in (db_session, session_factory()):
        for row, ciphertext in zip(rows, texts, strict=True):
            with pytest.raises(CryptoError):
                vault.open(session, _binding(alice, row), ciphertext)
    assert vault.open_text(db_session, _binding(bob), bobs) == "b"
    # Sealing for Alice again starts a new key: the old ciphertexts stay noise.
    vault.seal(db_session, _binding(alice), "new life")
    with pytest.raises(CryptoError, match="another data key"):
        vault.open(db_session, _binding(alice, rows[0]), texts[0])


_content = MetaData()
# Stands in for any survivor table (journal entries, plans): ciphertexts keyed by owner.
_sealed = Table(
    "test_sealed",
    _content,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("body", LargeBinary, nullable=False),
)


def _open_all(url: str, ring: KeyRing, owner: uuid.UUID, factory: Callable[[str], Engine]) -> int:
    """How many of ``owner``'s rows in the database at ``url`` decrypt under ``ring``."""
    opened = 0
    with make_session_factory(factory(url))() as s:
        for row_id, body in s.execute(
            select(_sealed.c.id, _sealed.c.body).where(_sealed.c.owner_id == owner)
        ):
            try:
                Vault(ring, FrozenClock()).open(s, _binding(owner, row_id), body)
            except CryptoError:
                continue
            opened += 1
    return opened


def test_erasure_reaches_backups_taken_before_it(
    committed_db: str,
    engine_factory: Callable[[str], Engine],
    copy_database: Callable[[str], str],
) -> None:
    """Erase + rotate + retire: a backup taken before the erasure yields nothing of the owner.

    The steps are those of the module docstring of core.vault: deleting the DEK row covers the
    live database; the backup still holds the wrapped DEK until the KEK that wrapped it is
    retired. The test also shows that the deletion alone is NOT enough for backups (so the
    retirement step is necessary, not decoration), and that survivors who were not erased stay
    restorable from that backup.
    """
    clock = FrozenClock()
    ring1 = KeyRing.generate("epoch1")
    live_engine = engine_factory(committed_db)
    _content.create_all(live_engine)
    erased, kept = uuid.uuid4(), uuid.uuid4()
    with make_session_factory(live_engine)() as s:
        vault = Vault(ring1, clock)
        for owner in (erased, kept):
            for i in range(3):
                row_id = uuid.uuid4()
                body = vault.seal(s, _binding(owner, row_id), f"secret {i}")
                s.execute(insert(_sealed).values(id=row_id, owner_id=owner, body=body))
        s.commit()
    live_engine.dispose()

    backup = copy_database(committed_db)
    assert _open_all(backup, ring1, erased, engine_factory) == 3

    # 1. Erase: the live database has no key for the owner any more.
    with make_session_factory(engine_factory(committed_db))() as s:
        assert Vault(ring1, clock).erase(s, erased)
        s.commit()
    assert _open_all(committed_db, ring1, erased, engine_factory) == 0
    # ... but with the key ring of the day, the backup's wrapped DEK still opens everything.
    assert _open_all(backup, ring1, erased, engine_factory) == 3

    # 2. Key epoch: new primary, re-wrap, retire every KEK nothing refers to.
    ring2 = ring1.with_new_primary("epoch2")
    with make_session_factory(engine_factory(committed_db))() as s:
        vault2 = Vault(ring2, clock)
        assert vault2.rotate(s) == 1  # only the kept owner's key is left to re-wrap
        s.commit()
        assert vault2.retirable_kek_ids(s) == ["epoch1"]
    ring3 = ring2.without("epoch1")

    # Now nothing of the erased owner decrypts, from the live database or from the backup.
    assert _open_all(committed_db, ring3, erased, engine_factory) == 0
    assert _open_all(backup, ring3, erased, engine_factory) == 0
    # Not even by hand: the backup's wrapped DEK does not unwrap under any KEK that exists.
    with make_session_factory(engine_factory(backup))() as s:
        row = s.scalars(select(DataKey).where(DataKey.owner_id == erased)).one()
    for kid, _ in ring3.keks:
        with pytest.raises(CryptoError):
            crypto.unwrap_data_key(ring3, erased, kid, row.wrapped)

    # The survivor who was not erased: live data opens; the backup's content tables restore
    # with the current data_keys (rotation kept the same DEK, only its wrapping changed).
    assert _open_all(committed_db, ring3, kept, engine_factory) == 3
    assert _open_all(backup, ring3, kept, engine_factory) == 0  # the backup's own wrapping
    with (
        make_session_factory(engine_factory(backup))() as old,
        make_session_factory(engine_factory(committed_db))() as current,
    ):
        vault3 = Vault(ring3, clock)
        restored = old.execute(select(_sealed.c.id, _sealed.c.owner_id, _sealed.c.body)).all()
        texts = {
            owner: [
                vault3.open_text(current, _binding(owner, row_id), body)
                for row_id, o, body in restored
                if o == owner
            ]
            for owner in (kept,)
        }
        assert sorted(texts[kept]) == ["secret 0", "secret 1", "secret 2"]
        for row_id, owner, body in restored:
            if owner == erased:
                with pytest.raises(CryptoError):
                    vault3.open(current, _binding(owner, row_id), body)
