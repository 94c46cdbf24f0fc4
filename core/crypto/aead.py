"""Data at rest: AES-256-GCM (``cryptography``'s AESGCM) under a per-owner data key (DEK).

A ciphertext is ``version | dek id | nonce | ciphertext+tag`` and its associated data
(``Binding``) binds it to ``table|column|row id|owner id``: copied into another row, column or
owner, it fails. DEKs are stored wrapped (AES-256-GCM) by a key-encryption key from the key
ring; deleting a DEK row crypto-shreds everything of its owner.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.crypto.keyring import KeyRing
from core.errors import CryptoError

FORMAT_VERSION = 1
NONCE_BYTES = 12
_DEK_ID_BYTES = 16


@dataclass(frozen=True)
class Binding:
    """Where a ciphertext belongs: it decrypts only in this table, column, row and owner.

    The associated data of every ciphertext is built here, and nowhere else, as the parts
    joined by ``|``: ``table|column|row id|owner id``. A survivor's data (``Vault``) always names
    its owner; a secret under a purpose key that belongs to no survivor (a staff member's TOTP
    seed, an agency's webhook secret) has ``owner_id=None``, and a file outside the database (a
    journal attachment) has ``column=None``: those parts are left out, so the ciphertexts
    written before this class covered them still open. The key tells such places apart: each
    purpose key and each attachment's own key serves one kind of place only.
    """

    table: str
    column: str | None
    row_id: uuid.UUID | str
    owner_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        # "|" separates the parts of the associated data; allowing it inside a part would let
        # two different places share one associated data ("a|b", "c" vs "a", "b|c").
        for part in (self.table, self.column, str(self.row_id)):
            if part is not None and (not part or "|" in part):
                raise ValueError("binding parts must be non-empty and free of '|'")
        if self.owner_id is not None and not isinstance(self.owner_id, uuid.UUID):
            raise TypeError("a binding's owner_id must be a UUID")

    @classmethod
    def blob(cls, kind: str, row_id: uuid.UUID, owner_id: uuid.UUID) -> Binding:
        """A file kept outside the database (no column): ``kind|row id|owner id``."""
        return cls(kind, None, row_id, owner_id)

    def associated_data(self) -> bytes:
        parts = (self.table, self.column, self.row_id, self.owner_id)
        return "|".join(str(p) for p in parts if p is not None).encode()


def wrap_data_key(ring: KeyRing, owner_id: uuid.UUID, dek: bytes) -> tuple[str, bytes]:
    """Wrap a data key under the primary KEK; returns (kek id, wrapped bytes)."""
    kek_id = ring.primary_id
    nonce = os.urandom(NONCE_BYTES)
    aad = _wrap_aad(owner_id, kek_id)
    return kek_id, bytes([FORMAT_VERSION]) + nonce + AESGCM(ring.kek(kek_id)).encrypt(
        nonce, dek, aad
    )


def unwrap_data_key(ring: KeyRing, owner_id: uuid.UUID, kek_id: str, wrapped: bytes) -> bytes:
    if len(wrapped) < 1 + NONCE_BYTES + 16 or wrapped[0] != FORMAT_VERSION:
        raise CryptoError("wrapped data key has an unknown format")
    nonce, body = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
    try:
        return AESGCM(ring.kek(kek_id)).decrypt(nonce, body, _wrap_aad(owner_id, kek_id))
    except InvalidTag:
        raise CryptoError("data key did not unwrap") from None


def _wrap_aad(owner_id: uuid.UUID, kek_id: str) -> bytes:
    return f"lantern-dek|{owner_id}|{kek_id}".encode()


def seal(dek_id: uuid.UUID, dek: bytes, binding: Binding, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` under a data key, bound to ``binding``."""
    header = bytes([FORMAT_VERSION]) + dek_id.bytes
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(dek).encrypt(nonce, plaintext, header + binding.associated_data())
    return header + nonce + body


def ciphertext_dek_id(ciphertext: bytes) -> uuid.UUID:
    if len(ciphertext) < 1 + _DEK_ID_BYTES + NONCE_BYTES + 16 or ciphertext[0] != FORMAT_VERSION:
        raise CryptoError("ciphertext has an unknown format")
    return uuid.UUID(bytes=ciphertext[1 : 1 + _DEK_ID_BYTES])


def unseal(dek: bytes, binding: Binding, ciphertext: bytes) -> bytes:
    ciphertext_dek_id(ciphertext)  # format check
    header = ciphertext[: 1 + _DEK_ID_BYTES]
    nonce = ciphertext[1 + _DEK_ID_BYTES : 1 + _DEK_ID_BYTES + NONCE_BYTES]
    body = ciphertext[1 + _DEK_ID_BYTES + NONCE_BYTES :]
    try:
        return AESGCM(dek).decrypt(nonce, body, header + binding.associated_data())
    except InvalidTag:
        raise CryptoError("ciphertext did not authenticate") from None


def seal_with_key(key: bytes, binding: Binding, plaintext: bytes) -> bytes:
    """AES-256-GCM under a key of its own (a purpose key, an attachment's one-off key) rather
    than a survivor's data key, bound to ``binding``."""
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plaintext, binding.associated_data())
    return bytes([FORMAT_VERSION]) + nonce + body


def open_with_key(key: bytes, binding: Binding, ciphertext: bytes) -> bytes:
    if len(ciphertext) < 1 + NONCE_BYTES + 16 or ciphertext[0] != FORMAT_VERSION:
        raise CryptoError("ciphertext has an unknown format")
    try:
        return AESGCM(key).decrypt(
            ciphertext[1 : 1 + NONCE_BYTES],
            ciphertext[1 + NONCE_BYTES :],
            binding.associated_data(),
        )
    except InvalidTag:
        raise CryptoError("ciphertext did not authenticate") from None
