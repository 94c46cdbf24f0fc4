"""Per-owner data keys in the database: create, use, rotate and erase (crypto-shredding).

Erasure and backups (lead's design decision): deleting the DEK row shreds the live database,
but a backup taken earlier still holds the wrapped DEK. Backups become unreadable for an
erased owner once the KEK that wrapped it is retired: erasure is followed (batched, e.g.
daily) by ``keys rotate`` to a new primary and removal of the old KEK from the key ring. The
old backup's wrapped DEKs then need a KEK that no longer exists anywhere. Tests prove exactly
that sequence: copy, erase, rotate, retire old KEK -> the copy yields nothing for that owner.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import LargeBinary, String, select
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


class Vault:
    """Seals and opens survivor data with that survivor's data key.

    Unwrapped keys are cached only in ``session.info``, so they live for one request or job
    and an erased key is not kept alive in another process's memory.
    """

    def __init__(self, ring: crypto.KeyRing, clock: Clock) -> None:
        self.ring = ring
        self.clock = clock

    def _cache(self, session: Session) -> dict[uuid.UUID, tuple[uuid.UUID, bytes]]:
        cache: dict[uuid.UUID, tuple[uuid.UUID, bytes]] = session.info.setdefault(_CACHE, {})
        return cache

    def _key_for_owner(
        self, session: Session, owner_id: uuid.UUID, *, create: bool
    ) -> tuple[uuid.UUID, bytes]:
        cache = self._cache(session)
        if owner_id in cache:
            return cache[owner_id]
        row = session.scalars(select(DataKey).where(DataKey.owner_id == owner_id)).one_or_none()
        if row is None:
            if not create:
                raise CryptoError("no data key for this owner (erased or never created)")
            dek = crypto.random_key()
            kek_id, wrapped = crypto.wrap_data_key(self.ring, owner_id, dek)
            row = DataKey(
                id=new_id(),
                owner_id=owner_id,
                kek_id=kek_id,
                wrapped=wrapped,
                created_at=self.clock.now(),
            )
            session.add(row)
            session.flush()
        else:
            dek = crypto.unwrap_data_key(self.ring, owner_id, row.kek_id, row.wrapped)
        cache[owner_id] = (row.id, dek)
        return cache[owner_id]

    def ensure_key(self, session: Session, owner_id: uuid.UUID) -> None:
        self._key_for_owner(session, owner_id, create=True)

    def seal(self, session: Session, binding: crypto.Binding, plaintext: bytes | str) -> bytes:
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        dek_id, dek = self._key_for_owner(session, binding.owner_id, create=True)
        return crypto.seal(dek_id, dek, binding, data)

    def open(self, session: Session, binding: crypto.Binding, ciphertext: bytes) -> bytes:
        dek_id, dek = self._key_for_owner(session, binding.owner_id, create=False)
        if crypto.ciphertext_dek_id(ciphertext) != dek_id:
            raise CryptoError("ciphertext belongs to another data key")
        return crypto.unseal(dek, binding, ciphertext)

    def open_text(self, session: Session, binding: crypto.Binding, ciphertext: bytes) -> str:
        return self.open(session, binding, ciphertext).decode("utf-8")

    def erase(self, session: Session, owner_id: uuid.UUID) -> bool:
        """Crypto-shred: delete the owner's data key. Every ciphertext of theirs becomes noise."""
        self._cache(session).pop(owner_id, None)
        row = session.scalars(select(DataKey).where(DataKey.owner_id == owner_id)).one_or_none()
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
                select(DataKey).where(DataKey.kek_id != primary).limit(batch_size)
            ).all()
            if not rows:
                return count
            for row in rows:
                dek = crypto.unwrap_data_key(self.ring, row.owner_id, row.kek_id, row.wrapped)
                row.kek_id, row.wrapped = crypto.wrap_data_key(self.ring, row.owner_id, dek)
                row.rotated_at = self.clock.now()
            count += len(rows)
            session.flush()
