"""The key ring: every key kept outside the database, by id, primary first: key-encryption keys
(KEKs), the index key and the purpose keys derived from it (HKDF), the audit chain's HMAC keys
and the evidence signing keys; how they are generated, rotated, retired and written as JSON."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from typing import Any

from core.crypto.audit_keys import AuditChainKeys
from core.crypto.primitives import (
    KEY_BYTES,
    b64decode,
    b64encode,
    check_key_id,
    derive_key,
    new_key_id,
    random_key,
)
from core.crypto.signing import EvidenceKey
from core.errors import ConfigurationError, CryptoError


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
            check_key_id(kid)
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
        return derive_key(self.index_key, purpose)

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
        new = (key_id or new_key_id("a"), random_key())
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


def new_kek_id() -> str:
    return new_key_id("k")
