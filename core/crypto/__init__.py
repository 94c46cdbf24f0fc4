"""Every cryptographic choice Lantern makes lives in this package and nowhere else; the rest of
Lantern imports it from here (``from core.crypto import ...``), never from its modules.

- Data at rest (``aead``): AES-256-GCM (``cryptography``'s AESGCM) under a per-owner data key
  (DEK). A ciphertext is ``version | dek id | nonce | ciphertext+tag`` and its associated data
  (``Binding``) binds it to ``table|column|row id|owner id``: copied into another row, column or
  owner, it fails.
- DEKs are stored wrapped (AES-256-GCM, ``aead``) by a key-encryption key (KEK) from the key ring
  (``keyring``); KEKs live outside the database. Deleting a DEK row crypto-shreds everything of
  its owner.
- Blind indexes and keyed hashes (``keyring``, ``blind_index``): HMAC-SHA256 under a purpose key
  derived (HKDF, ``primitives``) from the index key, which is separate from every KEK.
- Passwords, PINs and other low-entropy secrets (``passwords``): argon2id. High-entropy tokens
  (``primitives``): SHA-256.
- The audit log's hash chain (``audit_keys``): HMAC-SHA256 under an audit key kept outside the
  database (so that someone who can only write to the database cannot recompute it), with a key
  id per event. Checkpoints of the verified chain, kept in a file outside the database (so that
  cutting the log short is found too), carry an HMAC-SHA256 under a key derived (HKDF) from the
  audit key, so that a checkpoint can never pass for a chain link, nor a link for a checkpoint.
- Evidence (journal exports, ``signing``): Ed25519 signatures by a service signing key; the
  public halves are published so that anyone can verify a bundle offline.
- Randomness, base64url, SHA-256 digests, constant-time comparison and key ids: ``primitives``.
"""

from __future__ import annotations

from core.crypto.aead import (
    NONCE_BYTES,
    Binding,
    ciphertext_dek_id,
    open_with_key,
    seal,
    seal_with_key,
    unseal,
    unwrap_data_key,
    wrap_data_key,
)
from core.crypto.audit_keys import AuditChainKeys
from core.crypto.blind_index import decoy_phone_index, normalize_phone, phone_index
from core.crypto.keyring import KeyRing
from core.crypto.passwords import (
    OWASP_ARGON2_MIN_MEMORY_KIB,
    OWASP_ARGON2_MIN_TIME_COST,
    SecretHasher,
)
from core.crypto.primitives import (
    KEY_BYTES,
    b64decode,
    b64encode,
    constant_time_equals,
    digest_items,
    random_key,
    random_token,
    token_digest,
)
from core.crypto.signing import (
    EVIDENCE_ALGORITHM,
    EvidenceKey,
    evidence_public_from_pem,
    verify_evidence,
)

__all__ = [
    "EVIDENCE_ALGORITHM",
    "KEY_BYTES",
    "NONCE_BYTES",
    "OWASP_ARGON2_MIN_MEMORY_KIB",
    "OWASP_ARGON2_MIN_TIME_COST",
    "AuditChainKeys",
    "Binding",
    "EvidenceKey",
    "KeyRing",
    "SecretHasher",
    "b64decode",
    "b64encode",
    "ciphertext_dek_id",
    "constant_time_equals",
    "decoy_phone_index",
    "digest_items",
    "evidence_public_from_pem",
    "normalize_phone",
    "open_with_key",
    "phone_index",
    "random_key",
    "random_token",
    "seal",
    "seal_with_key",
    "token_digest",
    "unseal",
    "unwrap_data_key",
    "verify_evidence",
    "wrap_data_key",
]
