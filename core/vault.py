"""Per-owner data keys in the database: create, use, rotate and erase (crypto-shredding).

Erasure is two steps, because a copy of the database taken before an erasure (a backup, a
snapshot) still holds the erased owner's wrapped DEK, and the key ring that unwraps it lives on:

1. ``Vault.erase`` deletes the DEK row: in the live database, everything of that owner is noise
   at once (and the unwrapped key is dropped from the session's cache).
2. At the next key epoch (batched, e.g. daily; until then, copies taken before the erasure can
   still be read with the live key ring), the operator adds a new primary KEK, runs
   ``keys rotate`` (``Vault.rotate``) and retires every KEK that no data key refers to any more
   (``Vault.retirable_kek_ids``, ``KeyRing.without``). Older copies of ``data_keys`` then hold
   DEKs wrapped only under KEKs that exist nowhere: the erased owner's data is noise in every
   backup too.

Survivors who were not erased stay restorable from an old backup: rotation re-wraps the same
DEK, so old ciphertexts open with the current ``data_keys`` under the current key ring.

Operational rules this relies on: every process gets the ring with the new primary before
``keys rotate`` runs (a process still on the old ring would wrap new DEKs under the KEK about to
be retired); and copies of the keys file itself are retired with it (a backup of the keys file
is a backup of the retired KEK).

Why not something that needs no KEK retirement: whatever makes an old copy unreadable for one
owner must be a secret that the copy does not hold and that erasure destroys. Anything stored in
the database (a per-owner salt, a share in another table) is in the copy too; a tombstone list is
policy, not cryptography (whoever holds the copy and the KEK ignores it). So the destroyed secret
has to live with the keys, outside the database, and the key ring is exactly that: retiring a KEK
is the destruction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import LargeBinary, String, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import crypto
from core.clock import Clock
from core.db import Base
from core.errors import CryptoError
from core.ids import new_id


class DataKey(Base):
    """One survivor's (owner's) data key, wrapped by a key-encryption key."""

    __tablename__ = "data_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]
    rotated_at: Mapped[dt.datetime | None]


_CACHE = "lantern_data_keys"


def _forget_keys(session: Session, _previous: Any) -> None:
    # A key created in a transaction (or savepoint) that rolled back was never stored: sealing
    # with it later would write data that nothing can ever open. Any rollback drops the cache;
    # the next use reads the key again from what the database really holds.
    session.info.pop(_CACHE, None)


def _owner(binding: crypto.Binding) -> uuid.UUID:
    if binding.owner_id is None:
        raise TypeError("survivor data is bound to its owner: a vault binding needs owner_id")
    return binding.owner_id


class Vault:
    """Seals and opens survivor data with that survivor's data key.

    Unwrapped keys are cached only in ``session.info``, so they live for one request or job
    and an erased key is not kept alive in another process's memory.
    """

    def __init__(self, ring: crypto.KeyRing, clock: Clock) -> None:
        self.ring = ring
        self.clock = clock

    def _cache(self, session: Session) -> dict[uuid.UUID, tuple[uuid.UUID, bytes]]:
        if _CACHE not in session.info and not event.contains(
            session, "after_soft_rollback", _forget_keys
        ):
            event.listen(session, "after_soft_rollback", _forget_keys)
        cache: dict[uuid.UUID, tuple[uuid.UUID, bytes]] = session.info.setdefault(_CACHE, {})
        return cache

    def _key_for_owner(
        self, session: Session, owner_id: uuid.UUID, *, create: bool
    ) -> tuple[uuid.UUID, bytes]:
        cache = self._cache(session)
        if owner_id in cache:
            return cache[owner_id]
        row = self._row(session, owner_id)
        if row is None:
            if not create:
                raise CryptoError("no data key for this owner (erased or never created)")
            row, dek = self._create(session, owner_id)
        else:
            dek = crypto.unwrap_data_key(self.ring, owner_id, row.kek_id, row.wrapped)
        # _create may have rolled back a savepoint, which empties the cache: fetch it again.
        cache = self._cache(session)
        cache[owner_id] = (row.id, dek)
        return cache[owner_id]

    def preload(self, session: Session, owner_ids: Iterable[uuid.UUID]) -> None:
        """Unwrap several owners' keys with one query (a batch of check-ins, say)."""
        cache = self._cache(session)
        wanted = {o for o in owner_ids if o not in cache}
        if not wanted:
            return
        for row in session.scalars(
            select(DataKey)
            .where(DataKey.owner_id.in_(wanted))
            .execution_options(populate_existing=True)
        ):
            dek = crypto.unwrap_data_key(self.ring, row.owner_id, row.kek_id, row.wrapped)
            cache[row.owner_id] = (row.id, dek)

    @staticmethod
    def _row(session: Session, owner_id: uuid.UUID) -> DataKey | None:
        return session.scalars(
            select(DataKey)
            .where(DataKey.owner_id == owner_id)
            .execution_options(populate_existing=True)
        ).one_or_none()

    def _create(self, session: Session, owner_id: uuid.UUID) -> tuple[DataKey, bytes]:
        dek = crypto.random_key()
        kek_id, wrapped = crypto.wrap_data_key(self.ring, owner_id, dek)
        row = DataKey(
            id=new_id(),
            owner_id=owner_id,
            kek_id=kek_id,
            wrapped=wrapped,
            created_at=self.clock.now(),
        )
        try:
            # A savepoint: two requests sealing a new owner's first secret at once both try to
            # create the key; the loser must use the winner's key, not fail its transaction.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            existing = self._row(session, owner_id)
            if existing is None:
                raise
            return existing, crypto.unwrap_data_key(
                self.ring, owner_id, existing.kek_id, existing.wrapped
            )
        return row, dek

    def ensure_key(self, session: Session, owner_id: uuid.UUID) -> None:
        self._key_for_owner(session, owner_id, create=True)

    def seal(self, session: Session, binding: crypto.Binding, plaintext: bytes | str) -> bytes:
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        dek_id, dek = self._key_for_owner(session, _owner(binding), create=True)
        return crypto.seal(dek_id, dek, binding, data)

    def open(self, session: Session, binding: crypto.Binding, ciphertext: bytes) -> bytes:
        dek_id, dek = self._key_for_owner(session, _owner(binding), create=False)
        if crypto.ciphertext_dek_id(ciphertext) != dek_id:
            raise CryptoError("ciphertext belongs to another data key")
        return crypto.unseal(dek, binding, ciphertext)

    def open_text(self, session: Session, binding: crypto.Binding, ciphertext: bytes) -> str:
        return self.open(session, binding, ciphertext).decode("utf-8")

    def erase(self, session: Session, owner_id: uuid.UUID) -> bool:
        """Crypto-shred: delete the owner's data key. Every ciphertext of theirs becomes noise.

        This covers the live database at once; copies taken earlier are covered at the next key
        epoch (rotate, then retire the old KEKs: see the module docstring).
        """
        self._cache(session).pop(owner_id, None)
        row = self._row(session, owner_id)
        if row is None:
            return False
        session.delete(row)
        session.flush()
        return True

    def rotate(self, session: Session, batch_size: int = 500) -> int:
        """Re-wrap every data key not under the primary KEK; returns how many were re-wrapped."""
        primary = self.ring.primary_id
        count = 0
        while True:
            rows = session.scalars(
                select(DataKey)
                .where(DataKey.kek_id != primary)
                .order_by(DataKey.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return count
            for row in rows:
                dek = crypto.unwrap_data_key(self.ring, row.owner_id, row.kek_id, row.wrapped)
                row.kek_id, row.wrapped = crypto.wrap_data_key(self.ring, row.owner_id, dek)
                row.rotated_at = self.clock.now()
            count += len(rows)
            session.flush()

    def kek_usage(self, session: Session) -> dict[str, int]:
        """How many data keys each KEK id wraps; a KEK absent here may be retired."""
        rows = session.execute(select(DataKey.kek_id, func.count()).group_by(DataKey.kek_id)).all()
        return {kek_id: count for kek_id, count in rows}

    def retirable_kek_ids(self, session: Session) -> list[str]:
        """KEKs of the ring that wrap no data key and are not the primary: safe to destroy."""
        used = self.kek_usage(session)
        return [kid for kid, _ in self.ring.keks[1:] if kid not in used]
