"""Evidence signatures: journal exports are signed with Ed25519 by a service signing key; the
public halves are published so that anyone can verify a bundle offline."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.crypto.primitives import KEY_BYTES, b64decode, b64encode, check_key_id, new_key_id
from core.errors import ConfigurationError

EVIDENCE_ALGORITHM = "Ed25519"
EVIDENCE_SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class EvidenceKey:
    """An Ed25519 key that signs journal exports; a retired one keeps only its public half."""

    key_id: str
    public: bytes
    private: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
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
        return cls.from_private(key_id or new_key_id("e"), private)

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
