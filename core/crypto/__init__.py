"""Every cryptographic choice Lantern makes lives in this module and nowhere else.

- Data at rest: AES-256-GCM (``cryptography``'s AESGCM) under a per-owner data key (DEK).
  A ciphertext is ``version | dek id | nonce | ciphertext+tag`` and its associated data binds it
  to ``table|column|row id|owner id``: copied into another row, column or owner, it fails.
- DEKs are stored wrapped (AES-256-GCM) by a key-encryption key (KEK) from the key ring; KEKs
  live outside the database. Deleting a DEK row crypto-shreds everything of its owner.
- Blind indexes and keyed hashes: HMAC-SHA256 under a purpose key derived (HKDF) from the index
  key, which is separate from every KEK.
- Passwords, PINs and other low-entropy secrets: argon2id. High-entropy tokens: SHA-256.
- The audit log's hash chain: HMAC-SHA256 under an audit key kept outside the database (so
  that someone who can only write to the database cannot recompute it), with a key id per event.
  Checkpoints of the verified chain, kept in a file outside the database (so that cutting the
  log short is found too), carry an HMAC-SHA256 under a key derived (HKDF) from the audit key,
  so that a checkpoint can never pass for a chain link, nor a link for a checkpoint.
- Evidence (journal exports): Ed25519 signatures by a service signing key; the public halves
  are published so that anyone can verify a bundle offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import phonenumbers
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ConfigurationError, CryptoError, InvalidInput
from core.settings import Settings

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
_DEK_ID_BYTES = 16
_MAX_KEK_ID = 64

# OWASP Password Storage Cheat Sheet floor for argon2id: m=19 MiB, t=2, p=1.
OWASP_ARGON2_MIN_MEMORY_KIB = 19_456
OWASP_ARGON2_MIN_TIME_COST = 2


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token of ``nbytes`` bytes (at least 16: >= 128 bits)."""
    if nbytes < 16:
        raise ValueError("tokens must carry at least 128 bits")
    return secrets.token_urlsafe(nbytes)


def random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def token_digest(token: str) -> str:
    """How a high-entropy token is stored: its SHA-256, hex. (Low-entropy secrets use argon2.)"""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode("utf-8")
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hmac.compare_digest(a, b)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- key ring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRing:
    """Every key kept outside the database: key-encryption keys (primary first), the index key,
    the audit chain's HMAC keys (primary first) and the evidence signing keys (primary first).

    Old audit keys stay to verify the events they keyed; old evidence keys stay published (a
    retired one keeps only its public half) so that the bundles they signed still verify.
    """

    # repr=False: a key ring printed in a traceback, a debugger or a log line must show ids,
    # never key bytes.
    keks: tuple[tuple[str, bytes], ...] = field(repr=False)
    index_key: bytes = field(repr=False)
    audit_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    evidence_keys: tuple[EvidenceKey, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        return (
            f"KeyRing(kek_ids={[kid for kid, _ in self.keks]!r}, "
            f"audit_key_ids={[kid for kid, _ in self.audit_keys]!r}, "
            f"evidence_key_ids={[k.key_id for k in self.evidence_keys]!r})"
        )

    def __post_init__(self) -> None:
        if not self.keks:
            raise ConfigurationError("the key ring needs at least one key-encryption key")
        ids = [
            *(kid for kid, _ in self.keks),
            *(kid for kid, _ in self.audit_keys),
            *(k.key_id for k in self.evidence_keys),
        ]
        if len(set(ids)) != len(ids):
            # One id space, so that `lantern keys retire ID` can never pick the wrong kind.
            raise ConfigurationError("key ids must be unique across every kind of key")
        for kid, key in (*self.keks, *self.audit_keys):
            _check_key_id(kid)
            if len(key) != KEY_BYTES:
                raise ConfigurationError(f"key {kid!r} must be 32 bytes")
        # One key under two ids (or for two purposes) would make retiring one of them
        # meaningless (crypto-shredding of backups relies on a retired KEK being gone), and an
        # audit key equal to a KEK would hand the audit chain to whoever holds that KEK.
        symmetric = [key for _, key in (*self.keks, *self.audit_keys)]
        if len(set(symmetric)) != len(symmetric):
            raise ConfigurationError("key-encryption and audit keys must differ from each other")
        if len(self.index_key) != KEY_BYTES:
            raise ConfigurationError("the index key must be 32 bytes")
        if any(hmac.compare_digest(self.index_key, key) for key in symmetric):
            raise ConfigurationError("the index key must differ from every other key")
        if self.evidence_keys and self.evidence_keys[0].private is None:
            raise ConfigurationError("the primary evidence key must have its private half")

    @property
    def primary_id(self) -> str:
        return self.keks[0][0]

    def kek(self, kek_id: str) -> bytes:
        for kid, key in self.keks:
            if kid == kek_id:
                return key
        raise CryptoError(f"key-encryption key {kek_id!r} is not in the key ring")

    def purpose_key(self, purpose: str) -> bytes:
        """A key for one purpose (phone index, pseudonyms, reply codes...), derived by HKDF."""
        return _derive(self.index_key, purpose)

    def keyed_digest(self, purpose: str, value: str | bytes) -> str:
        """HMAC-SHA256 of ``value`` under the purpose key, hex: blind indexes, keyed hashes."""
        data = value.encode("utf-8") if isinstance(value, str) else value
        return hmac.new(self.purpose_key(purpose), data, hashlib.sha256).hexdigest()

    def audit_chain_keys(self) -> AuditChainKeys:
        """The audit keys alone, for the sessions that chain events (never the KEKs)."""
        return AuditChainKeys(self.audit_keys)

    @property
    def signing_key(self) -> EvidenceKey:
        """The evidence key that signs new exports."""
        if not self.evidence_keys:
            raise ConfigurationError("no evidence signing key is configured")
        return self.evidence_keys[0]

    def missing(self) -> tuple[str, ...]:
        """The settings naming the kinds of key this ring lacks (the KEKs it always has)."""
        absent = []
        if not self.audit_keys:
            absent.append("LANTERN_AUDIT_KEYS")
        if not self.evidence_keys:
            absent.append("LANTERN_EVIDENCE_KEYS")
        return tuple(absent)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "keks": [{"id": kid, "key": b64encode(key)} for kid, key in self.keks],
            "index_key": b64encode(self.index_key),
        }
        if self.audit_keys:
            data["audit_keys"] = [{"id": kid, "key": b64encode(k)} for kid, k in self.audit_keys]
        if self.evidence_keys:
            data["evidence_keys"] = [k.to_dict() for k in self.evidence_keys]
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        try:
            data = json.loads(text)
            return cls(
                keks=tuple((str(k["id"]), b64decode(k["key"])) for k in data["keks"]),
                index_key=b64decode(data["index_key"]),
                # Absent from keys files written before the audit chain was keyed and exports
                # were signed; development extends such a file, production refuses it.
                audit_keys=tuple(
                    (str(k["id"]), b64decode(k["key"])) for k in data.get("audit_keys", ())
                ),
                evidence_keys=tuple(
                    EvidenceKey.from_dict(k) for k in data.get("evidence_keys", ())
                ),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigurationError("the keys file is not valid") from exc

    @classmethod
    def generate(cls, kek_id: str | None = None) -> KeyRing:
        return cls(
            keks=((kek_id or new_kek_id(), random_key()),), index_key=random_key()
        ).with_missing_keys()

    def with_missing_keys(self) -> KeyRing:
        """The same ring with an audit key and an evidence key added where it has none."""
        ring = self
        if not ring.audit_keys:
            ring = ring.with_new_audit_key()
        if not ring.evidence_keys:
            ring = ring.with_new_evidence_key()
        return ring

    def with_new_primary(self, kek_id: str | None = None) -> KeyRing:
        """The same ring with a fresh primary KEK in front; old KEKs stay for reading."""
        return replace(self, keks=((kek_id or new_kek_id(), random_key()), *self.keks))

    def with_new_audit_key(self, key_id: str | None = None) -> KeyRing:
        """A fresh primary audit key in front; old ones stay to verify what they keyed."""
        new = (key_id or _new_id("a"), random_key())
        return replace(self, audit_keys=(new, *self.audit_keys))

    def with_new_evidence_key(self, key_id: str | None = None) -> KeyRing:
        """A fresh primary signing key in front; old ones stay published."""
        return replace(self, evidence_keys=(EvidenceKey.generate(key_id), *self.evidence_keys))

    def without(self, kek_id: str) -> KeyRing:
        """The same ring with ``kek_id`` retired (destroyed): what it wrapped is gone for good.

        Retiring is the second half of crypto-shredding: copies of ``data_keys`` taken before
        an erasure (backups) hold DEKs wrapped under KEKs of that time; once those KEKs are
        retired, nothing can unwrap them. Only retire a KEK no live data key refers to
        (``Vault.kek_usage``) and never the primary.
        """
        if kek_id == self.primary_id:
            raise ConfigurationError("the primary key-encryption key cannot be retired")
        self.kek(kek_id)  # CryptoError when it is not in the ring
        return replace(self, keks=tuple((kid, key) for kid, key in self.keks if kid != kek_id))

    def retire_evidence_key(self, key_id: str) -> KeyRing:
        """Destroy an old evidence key's private half; its public half stays published."""
        if self.evidence_keys and key_id == self.evidence_keys[0].key_id:
            raise ConfigurationError("the primary evidence key cannot be retired")
        if key_id not in {k.key_id for k in self.evidence_keys}:
            raise CryptoError(f"evidence key {key_id!r} is not in the key ring")
        return replace(
            self,
            evidence_keys=tuple(
                k.public_only() if k.key_id == key_id else k for k in self.evidence_keys
            ),
        )


def _check_key_id(kid: str) -> None:
    if not kid or len(kid.encode()) > _MAX_KEK_ID or ":" in kid or "," in kid:
        raise ConfigurationError("a key id must be 1-64 plain characters")


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(4)


def new_kek_id() -> str:
    return _new_id("k")


# --- envelope encryption --------------------------------------------------------------------


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


# --- phone numbers --------------------------------------------------------------------------


# Digits and the punctuation people type around them; nothing else. phonenumbers on its own
# turns letters into keypad digits ("+44 7911 123ABC" -> +447911123222) and drops extensions,
# control characters and "tel:" prefixes: a typo would silently become a stranger's number,
# and a check-in SMS to a stranger can reveal the service.
_PHONE_CHARS = re.compile(r"[0-9+\-(). ]{1,40}")


def _not_a_phone() -> InvalidInput:
    return InvalidInput("not a phone number", errors={"phone": ["Not a valid phone number."]})


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 form of a phone number, or InvalidInput (the number itself is never echoed)."""
    if not isinstance(raw, str) or not _PHONE_CHARS.fullmatch(raw):
        raise _not_a_phone()
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise _not_a_phone() from None
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        raise _not_a_phone()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_index(ring: KeyRing, e164: str) -> str:
    """The blind index a phone number is found by; the number itself is stored encrypted."""
    return ring.keyed_digest("phone-index", e164)


def decoy_phone_index(ring: KeyRing, e164: str) -> str:
    """A decoy account's blind index for its number, under a purpose key of its own: the same
    number never has the same index in a decoy and in a real account, so a decoy's number can
    never be found where real survivors' numbers are."""
    return ring.keyed_digest("decoy-phone-index", e164)


# --- password hashing -----------------------------------------------------------------------


class SecretHasher:
    """argon2id for passwords, PINs and recovery codes; also the dummy hash for unknown users."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the account does not exist, so that unknown and known users
        # cost the same time.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretHasher:
        if settings.is_production and (
            settings.argon2_memory_kib < OWASP_ARGON2_MIN_MEMORY_KIB
            or settings.argon2_time_cost < OWASP_ARGON2_MIN_TIME_COST
        ):
            raise ConfigurationError("argon2 parameters are below OWASP's minimum")
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """True when ``secret`` matches; with no stored hash, burns the same time and fails."""
        if stored_hash is None:
            self._verify(self._dummy, secret)
            return False
        return self._verify(stored_hash, secret)

    def _verify(self, stored_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def digest_items(items: Iterable[tuple[str, object]] | Mapping[str, object]) -> str:
    """SHA-256 over a canonical JSON form: consent receipts, hash chains."""
    data = dict(items)
    return sha256_hex(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode())


# --- the audit chain's key and evidence signatures ------------------------------------------

AUDIT_MAC_ALGORITHM = "HMAC-SHA256"
EVIDENCE_ALGORITHM = "Ed25519"
EVIDENCE_SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class AuditChainKeys:
    """The audit chain's HMAC keys (primary first), and nothing else of the key ring."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    # One keyed HMAC state per key, copied for each event: keying HMAC anew for every event
    # would cost more than the hash itself, and the chain is appended while the head is locked.
    _keyed: dict[str, Any] = field(init=False, repr=False, compare=False)

    _checkpoint_keyed: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keyed = {kid: hmac.new(key, digestmod=hashlib.sha256) for kid, key in self.keys}
        object.__setattr__(self, "_keyed", keyed)
        checkpoint_keyed = {
            kid: hmac.new(_derive(key, AUDIT_CHECKPOINT_PURPOSE), digestmod=hashlib.sha256)
            for kid, key in self.keys
        }
        object.__setattr__(self, "_checkpoint_keyed", checkpoint_keyed)

    def __repr__(self) -> str:
        return f"AuditChainKeys(ids={[kid for kid, _ in self.keys]!r})"

    @property
    def primary_id(self) -> str:
        if not self.keys:
            raise ConfigurationError("no audit key is configured (LANTERN_AUDIT_KEYS)")
        return self.keys[0][0]

    def mac(self, key_id: str, data: bytes) -> str | None:
        """HMAC-SHA256 of ``data`` under key ``key_id``, hex (the width of the old SHA-256
        links); None when no key has that id."""
        return _keyed_hex(self._keyed.get(key_id), data)

    def checkpoint_mac(self, key_id: str, data: bytes) -> str | None:
        """HMAC-SHA256 of a checkpoint under the key derived from audit key ``key_id``, hex;
        None when no key has that id."""
        return _keyed_hex(self._checkpoint_keyed.get(key_id), data)


AUDIT_CHECKPOINT_PURPOSE = "audit-checkpoint"


def _derive(key: bytes, purpose: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"lantern|" + purpose.encode()
    )
    return hkdf.derive(key)


def _keyed_hex(keyed: Any, data: bytes) -> str | None:
    if keyed is None:
        return None
    state = keyed.copy()
    state.update(data)
    digest: str = state.hexdigest()
    return digest


@dataclass(frozen=True)
class EvidenceKey:
    """An Ed25519 key that signs journal exports; a retired one keeps only its public half."""

    key_id: str
    public: bytes
    private: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)
        if len(self.public) != KEY_BYTES:
            raise ConfigurationError(f"evidence key {self.key_id!r}: public key must be 32 bytes")
        if self.private is not None:
            if len(self.private) != KEY_BYTES:
                raise ConfigurationError(f"evidence key {self.key_id!r} must be 32 bytes")
            if not hmac.compare_digest(evidence_public_key(self.private), self.public):
                raise ConfigurationError(f"evidence key {self.key_id!r}: halves do not match")

    @classmethod
    def from_private(cls, key_id: str, private: bytes) -> EvidenceKey:
        if len(private) != KEY_BYTES:
            raise ConfigurationError(f"evidence key {key_id!r} must be 32 bytes")
        return cls(key_id, evidence_public_key(private), private)

    @classmethod
    def generate(cls, key_id: str | None = None) -> EvidenceKey:
        private = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls.from_private(key_id or _new_id("e"), private)

    def public_only(self) -> EvidenceKey:
        return EvidenceKey(self.key_id, self.public)

    def sign(self, data: bytes) -> bytes:
        if self.private is None:
            raise ConfigurationError(f"evidence key {self.key_id!r} is retired: it cannot sign")
        return Ed25519PrivateKey.from_private_bytes(self.private).sign(data)

    def public_pem(self) -> str:
        """The public half as a PEM SubjectPublicKeyInfo (what `openssl pkeyutl` reads)."""
        return evidence_public_pem(self.public)

    def to_dict(self) -> dict[str, str]:
        data = {"id": self.key_id, "public_key": b64encode(self.public)}
        if self.private is not None:
            data["private_key"] = b64encode(self.private)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceKey:
        key_id = str(data["id"])
        if "private_key" in data:
            key = cls.from_private(key_id, b64decode(data["private_key"]))
            if "public_key" in data and b64decode(data["public_key"]) != key.public:
                raise ConfigurationError(f"evidence key {key_id!r}: halves do not match")
            return key
        return cls(key_id, b64decode(data["public_key"]))


def evidence_public_key(private: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def evidence_public_pem(public: bytes) -> str:
    return (
        Ed25519PublicKey.from_public_bytes(public)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def evidence_public_from_pem(pem: bytes) -> bytes:
    """The raw public key from a PEM file; ValueError when it is not an Ed25519 public key."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify_evidence(public: bytes, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``public``'s Ed25519 signature of ``data``; never raises."""
    if len(public) != KEY_BYTES or len(signature) != EVIDENCE_SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
